// The replicated job queue: applies committed entries to SQLite tables, deterministically.

import { type CompiledQuery, sql } from "kysely";
import type { Entry } from "../raft/mod.ts";
import type { Database } from "../storage/database.ts";
import { isDeterministicFailure } from "../storage/errors.ts";
import { queryPlan } from "../storage/prepared.ts";
import type { JobState } from "../storage/schema.ts";
import {
  decodeCommand,
  type FinishedState,
  type FireCommand,
  type MergeableCommand,
  type QueueCommand,
} from "./commands.ts";
import { RawJson } from "./json_text.ts";
import { type JobView, jobView } from "./job_view.ts";
import { JobListing, type JobPage, maxPageBytes } from "./job_listing.ts";
import { maxSchedules, ScheduleStore, type ScheduleView, scheduleView } from "./schedules.ts";
import { type QueueConfig, QueueSettings } from "./queue_settings.ts";
import { GroupStore, type GroupView } from "./groups.ts";
import { RateWindows, windowStartMs } from "./rate_limit.ts";
import { DependencyStore } from "./dependencies.ts";
import { EventLog, type EventPosition, type EventRead } from "./events.ts";
import { jobQueries } from "./job_queries.ts";
import { JobPayloads } from "./job_payloads.ts";
import { ReadyRuns } from "./ready_runs.ts";
import { leaseOf } from "./job_ids.ts";
import { tallyGroups } from "./job_rows.ts";
import { type ApplyResult, refusal } from "./results.ts";
import { QueueCounts, type QueueStats, type QueueView } from "./queue_counts.ts";
import { Transitions } from "./transitions.ts";
import { Enqueues } from "./enqueues.ts";
import { WorkerCommands } from "./worker_commands.ts";
import { DueWork } from "./due_work.ts";

/** Numbers every replica must agree on, set lower by tests (see the constructor). */
export interface MachineOptions {
  eventsRetained?: number;
  settlesPerEntry?: number;
  recapJobsPerEntry?: number;
  /** The fewest jobs an enqueue keeps as a ready run (see ReadyRuns). */
  minRunJobs?: number;
  /** False: a merged entry's claims apply one by one (tests compare both ways). */
  claimsTogether?: boolean;
  /** False: a merged entry's acks apply one by one (tests compare both ways). */
  acksTogether?: boolean;
}

type Claim = Extract<QueueCommand, { type: "claim" }>;
type Ack = Extract<QueueCommand, { type: "ack" }>;

const sameQueueClaim = (c: MergeableCommand, queue: string): boolean =>
  c.type === "claim" && c.queue === queue;

/** An ack that claims nothing after it (see WorkerCommands.ackMany). */
const plainAck = (c: MergeableCommand): c is Ack => c.type === "ack" && c.next === undefined;

/** The in-memory state at a point of an apply: indexes, clock, tallies, a journal position. */
interface ApplyMark {
  applied: number;
  settingsVersion: number;
  now: number;
  tallies: QueueStateMachine["tallies"];
  at: number;
}

/**
 * Applies entries in log order. Never reads the local clock or random numbers: time is the
 * highest leader stamp seen so far, so every replica ends with identical tables. The applied
 * index is written in the same transaction as the changes it covers. The commands themselves are
 * applied by Enqueues, WorkerCommands and DueWork over the Transitions they share.
 */
export class QueueStateMachine {
  readonly #db: Database;
  #applied = 0;
  /** A queue and its ready jobs, when jobs may have become claimable there (long polls wake). */
  onReady: (queue: string, ready: number) => void = () => {};
  readonly #q;
  /** Paused queues and queue configs (O(queues), in memory and in queue_settings). */
  readonly settings: QueueSettings;
  /** Pages of a queue's jobs (GET /v1/queues/:queue/jobs). */
  readonly listing: JobListing;
  /** Long payloads, kept apart from their jobs' rows. */
  readonly payloads: JobPayloads;
  /** Runs of plain ready jobs, kept as one row until claimed. */
  readonly runs: ReadyRuns;
  readonly schedules: ScheduleStore;
  /** Fair groups: ready and leased jobs per group, and whose turn it is. */
  readonly groups: GroupStore;
  readonly rates: RateWindows;
  /** Which jobs wait for which. */
  readonly deps: DependencyStore;
  /** Every job transition, for GET /v1/queues/:queue/events. */
  readonly events: EventLog;
  /** Queues the applyEntries call in progress wrote events for. */
  #eventQueues = new Set<string>();
  /** Called with a queue's name, after an apply commits, when it wrote events of that queue. */
  onEvents: (queue: string) => void = () => {};
  /**
   * Whether a writer waits for the answer of the entry at an index (on a follower none does). A
   * claim no one waits for leaves a payload kept apart unread: its answer carries `null` instead.
   */
  answered: (index: number) => boolean = () => true;
  /** Jobs per queue and state (see QueueCounts). */
  readonly #counts: QueueCounts;
  #sortedNames: { version: string; names: string[] } | null = null;
  readonly #t: Transitions;
  readonly #enqueues: Enqueues;
  readonly #workers: WorkerCommands;
  readonly #dueWork: DueWork;
  readonly #claimsTogether: boolean;
  readonly #acksTogether: boolean;

  /**
   * `eventsRetained`, `settlesPerEntry`, `recapJobsPerEntry`: tests keep fewer events, settle
   * fewer dependents and recap fewer groups an entry (every replica must use the same numbers).
   */
  constructor(db: Database, options: MachineOptions = {}) {
    this.#db = db;
    this.#q = jobQueries(db.kysely);
    this.#counts = new QueueCounts(db, this.#q);
    this.settings = new QueueSettings(db);
    this.payloads = new JobPayloads(db);
    this.runs = new ReadyRuns(db, options.minRunJobs);
    this.listing = new JobListing(db, this.payloads, this.runs);
    this.schedules = new ScheduleStore(db);
    this.groups = new GroupStore(db, options.recapJobsPerEntry);
    this.rates = new RateWindows(db);
    this.events = new EventLog(db, options.eventsRetained);
    this.deps = new DependencyStore(db, options.settlesPerEntry);
    const t = new Transitions(
      db,
      this.#q,
      this.#counts,
      this.settings,
      this.groups,
      this.events,
      this.deps,
      this.runs,
    );
    this.#t = t;
    this.#enqueues = new Enqueues(t, this.payloads);
    this.#workers = new WorkerCommands(t, this.payloads, this.rates);
    this.#dueWork = new DueWork(t, this.payloads);
    this.#claimsTogether = options.claimsTogether ?? true;
    this.#acksTogether = options.acksTogether ?? true;
    this.#readState();
  }

  /** What this replica has applied since it started (for metrics and the status page). */
  get tallies(): Transitions["tallies"] {
    return this.#t.tallies;
  }

  /**
   * Jobs someone waits on (GET /v1/jobs/:id/wait): `wake` is called, after the apply commits, for
   * each of them that finished (done, dead or cancelled) in it.
   */
  get jobWatch(): Transitions["jobWatch"] {
    return this.#t.jobWatch;
  }

  set jobWatch(watch: Transitions["jobWatch"]) {
    this.#t.jobWatch = watch;
  }

  /** The applied index and the clock, as the table holds them. */
  #readState(): void {
    const rows = this.#t.all<{ applied_index: number; now_ms: number }>(this.#q.state({}));
    this.#applied = rows[0]?.applied_index ?? 0;
    this.#t.now = rows[0]?.now_ms ?? 0;
  }

  /**
   * SQLite's plan for each prepared statement, by name (`EXPLAIN QUERY PLAN`, arguments all 0):
   * lets a test see that every hot query is served by an index, never by a scan of the jobs.
   */
  queryPlans(): Record<string, string> {
    const plans: Record<string, string> = {};
    for (const [name, q] of this.#namedStatements()) plans[name] = queryPlan(this.#db.conn, q);
    return plans;
  }

  /** The SQL of each prepared statement, by name (for tests of how statements are written). */
  statementTexts(): Record<string, string> {
    return Object.fromEntries(this.#namedStatements().map(([name, q]) => [name, q.sql]));
  }

  /** Every prepared statement of the apply path, by name, compiled with arguments all 0. */
  #namedStatements(): [string, CompiledQuery][] {
    const zeros = new Proxy({}, { get: () => 0 }) as Record<string, unknown>;
    const named = [
      ...Object.entries(this.#q),
      ...Object.entries(this.groups.queries).map(([name, q]) => [`groups.${name}`, q] as const),
      ...Object.entries(this.rates.queries).map(([name, q]) => [`rates.${name}`, q] as const),
      ...Object.entries(this.events.queries).map(([name, q]) => [`events.${name}`, q] as const),
      ...Object.entries(this.deps.queries).map(([name, q]) => [`deps.${name}`, q] as const),
      ...Object.entries(this.runs.queries).map(([name, q]) => [`runs.${name}`, q] as const),
    ];
    return named.map(([name, build]) => [
      name,
      (build as (args: Record<string, unknown>) => CompiledQuery)(zeros),
    ]);
  }

  get appliedIndex(): number {
    return this.#applied;
  }

  /** The queue's clock: the highest leader stamp applied. */
  get nowMs(): number {
    return this.#t.now;
  }

  /**
   * Applies entries (committed, in order, starting right after the applied index) in one
   * transaction, and returns the result of each normal entry by index. An entry whose apply fails
   * deterministically (see isDeterministicFailure) changes nothing and gets an `apply_failed`
   * result, the same on every replica and after every restart; any other failure (the disk, an
   * invariant) undoes the whole call and is thrown.
   */
  applyEntries(entries: readonly Entry[]): Map<number, ApplyResult> {
    const results = new Map<number, ApplyResult>();
    const todo = this.#unapplied(entries);
    if (todo.length === 0) return results;
    this.#t.woken = new Set<string>();
    this.#eventQueues = new Set<string>();
    this.#counts.begin();
    const start = this.#mark();
    try {
      this.#db.transaction(() => {
        try {
          this.#db.savepoint(() => {
            for (const e of todo) this.#applyEntry(e, results);
          });
        } catch (error) {
          if (!isDeterministicFailure(error)) throw error;
          // Some entry cannot be applied: go again one entry at a time to find it and skip it.
          this.#rollbackTo(start);
          results.clear();
          for (const e of todo) this.#applyAlone(e, results);
        }
        this.#counts.save(start.at);
        this.#t.run(this.#q.saveState({ applied: this.#applied, now: this.#t.now }));
      });
    } catch (error) {
      this.#rollbackTo(start); // the transaction rolled back
      throw error;
    } finally {
      this.#counts.end();
    }
    this.#announce();
    return results;
  }

  /** After an apply commits: wakes long polls, event streams and those waiting on a job's end. */
  #announce(): void {
    for (const queue of this.#t.woken) this.onReady(queue, this.#counts.of(queue, "ready"));
    for (const queue of this.#eventQueues) this.onEvents(queue);
    const settled = this.#t.settled;
    this.#t.settled = [];
    for (const id of settled) this.jobWatch.wake(id);
  }

  /** The entries after the applied index (a restart replays some twice); they must follow it. */
  #unapplied(entries: readonly Entry[]): readonly Entry[] {
    const todo = entries.filter((e) => e.index > this.#applied);
    todo.forEach((e, k) => {
      if (e.index !== this.#applied + 1 + k) {
        throw new Error(`apply gap: entry ${e.index} after applied ${this.#applied + k}`);
      }
    });
    return todo;
  }

  #applyEntry(e: Entry, results: Map<number, ApplyResult>): void {
    if (e.kind === "normal") results.set(e.index, this.#applyOne(e));
    this.#applied = e.index;
  }

  /** Applies one entry in its own savepoint; a deterministic failure becomes its result. */
  #applyAlone(e: Entry, results: Map<number, ApplyResult>): void {
    const mark = this.#mark();
    try {
      this.#db.savepoint(() => this.#applyEntry(e, results));
    } catch (error) {
      if (!isDeterministicFailure(error)) throw error;
      this.#rollbackTo(mark);
      const reason = error instanceof Error ? error.message : String(error);
      results.set(
        e.index,
        refusal("apply_failed", `the command could not be applied (${reason}); nothing changed`),
      );
      this.#applied = e.index;
    }
  }

  /** Where the in-memory state stands, to go back to if the SQL behind it is rolled back. */
  #mark(): ApplyMark {
    return {
      applied: this.#applied,
      settingsVersion: this.settings.version,
      now: this.#t.now,
      tallies: { ...this.tallies },
      at: this.#counts.position,
    };
  }

  /** Undoes the in-memory changes made since `mark` (O(changes), never a recount). */
  #rollbackTo(mark: ApplyMark): void {
    if (this.settings.version !== mark.settingsVersion) this.settings.load();
    this.#applied = mark.applied;
    this.#t.now = mark.now;
    this.#rereadDerived(); // (the rolled-back due work may be to do again)
    Object.assign(this.tallies, mark.tallies);
    this.#counts.rollbackTo(mark.at);
  }

  /**
   * What is kept in memory of the tables beside the counts and settings — the due floor,
   * retention, buffered events, pending dependency ends, recaps and run payloads — read again
   * (now, or at its next use) after the tables changed under it: a rollback or an installed image.
   */
  #rereadDerived(): void {
    this.#t.due.forget();
    this.#dueWork.retention.forget();
    this.events.forget();
    this.deps.reload();
    this.groups.reload();
    this.runs.reset();
  }

  #applyOne(e: Entry): ApplyResult {
    const logged = decodeCommand(e.data);
    if (!logged) return refusal("invalid_command", `entry ${e.index} holds no valid command`);
    const t = this.#t;
    this.events.begin();
    const later = logged.stampMs > t.now;
    if (later) t.now = logged.stampMs;
    this.deps.beginEntry(t.tell); // (ends earlier entries kept are told first)
    if (later && t.due.mayBeDue(t.now)) this.#dueWork.processDue();
    const result = this.#execute(logged.cmd, e.index, this.answered(e.index));
    this.groups.endEntry();
    for (const queue of this.events.flush(e.index, t.now)) this.#eventQueues.add(queue);
    return result;
  }

  /** `answering`: whether a writer waits for the entry's answer (see answered). */
  #execute(cmd: QueueCommand, index: number, answering: boolean): ApplyResult {
    switch (cmd.type) {
      case "enqueue":
        return cmd.parts
          ? this.#enqueues.parts(cmd.queue, cmd.jobs, cmd.parts, index)
          : this.#enqueues.enqueue(cmd.queue, cmd.jobs, index);
      case "flow":
        return this.#enqueues.flow(cmd.jobs, index);
      case "claim":
      case "ack":
      case "nack":
      case "extend":
      case "release":
      case "progress":
        return this.#workers.apply(cmd, leaseOf(index), answering);
      case "merged":
        return { type: "parts", parts: this.#mergedParts(cmd.cmds, index, answering) };
      case "cancel":
        return this.#cancel(cmd.id);
      case "retryDead":
        return this.#retryDead(cmd.queue, cmd.id);
      case "setSchedule":
        return this.#setSchedule(cmd);
      case "deleteSchedule":
        if (!this.schedules.remove(cmd.id)) {
          return refusal("not_found", `schedule ${cmd.id} does not exist`);
        }
        return { type: "scheduleDeleted", id: cmd.id };
      case "fire":
        return this.#fire(cmd, index);
      case "retryDeadMany":
        return this.#retryDeadMany(cmd.queue, cmd.limit);
      case "purge":
        return this.#purge(cmd.queue, cmd.state, cmd.limit);
      case "configure":
        return this.#configure(cmd.queue, cmd.config);
      case "pause": {
        this.settings.setPaused(cmd.queue, cmd.paused);
        if (!cmd.paused) this.#t.woken.add(cmd.queue);
        return { type: "paused", queue: cmd.queue, paused: cmd.paused };
      }
      case "tick":
        return this.#dueWork.tick(cmd.retentionMs);
    }
  }

  /**
   * A merged entry's commands, each answered as if alone, in order; claims of one queue that
   * follow each other are applied together (WorkerCommands.claimMany), and so are acks that
   * follow each other (WorkerCommands.ackMany).
   */
  #mergedParts(cmds: readonly MergeableCommand[], index: number, answering: boolean) {
    const parts: ApplyResult[] = [];
    let part = 0;
    while (part < cmds.length) {
      const c = cmds[part];
      if (c.type === "fire") {
        parts.push(this.#fire(c, index, part++));
        continue;
      }
      const end = this.#togetherEnd(cmds, part);
      if (end - part === 1) {
        parts.push(this.#workers.apply(c, leaseOf(index, part), answering));
      } else if (c.type === "claim") {
        const claims = cmds.slice(part, end) as Claim[];
        const leases = claims.map((_, k) => leaseOf(index, part + k));
        parts.push(...this.#workers.claimMany(claims, leases, answering));
      } else parts.push(...this.#workers.ackMany(cmds.slice(part, end) as Ack[]));
      part = end;
    }
    return parts;
  }

  /** Where the run of commands applied together from `part` ends (part + 1: it goes alone). */
  #togetherEnd(cmds: readonly MergeableCommand[], part: number): number {
    const c = cmds[part];
    let end = part + 1;
    if (c.type === "claim" && this.#claimsTogether) {
      while (end < cmds.length && sameQueueClaim(cmds[end], c.queue)) end++;
    } else if (plainAck(c) && this.#acksTogether) {
      while (end < cmds.length && plainAck(cmds[end])) end++;
    }
    return end;
  }

  #cancel(id: string): ApplyResult {
    const job = this.#t.jobToChange(id);
    if (!job) return refusal("not_found", `job ${id} does not exist`);
    if (job.state === "done") return refusal("conflict", `job ${id} is already done`);
    if (job.state !== "cancelled") this.#t.finish(job, "cancelled", null, job.last_error);
    return { type: "cancelled", id: job.id };
  }

  #retryDead(queue: string, id: string): ApplyResult {
    const t = this.#t;
    const job = t.job(id);
    if (!job || job.queue !== queue) {
      return refusal("not_found", `job ${id} is not in queue ${queue}`);
    }
    if (job.state !== "dead") return refusal("conflict", `job ${id} is ${job.state}, not dead`);
    t.run(this.#q.revive({ id: job.id, now: t.now }));
    t.due.forget(); // (a job revived ready keeps its expire_at, if it had one)
    t.moved(job.queue, "dead", "ready", 1, job.grp);
    this.events.record(job.queue, "retried", { ...job, attempts: 0 }, "ready");
    return { type: "retried", id: job.id };
  }

  #setSchedule(cmd: Extract<QueueCommand, { type: "setSchedule" }>): ApplyResult {
    if (!this.schedules.get(cmd.id) && this.schedules.count() >= maxSchedules) {
      return refusal(
        "conflict",
        `the cluster holds ${maxSchedules} schedules, the most it may: delete one first`,
      );
    }
    this.schedules.save(cmd.id, cmd.spec, cmd.nextRunAt, this.#t.now);
    return { type: "scheduleSet", schedule: scheduleView(this.schedules.get(cmd.id)!) };
  }

  #configure(queue: string, config: QueueConfig): ApplyResult {
    const cap = this.settings.get(queue).config.groupConcurrency;
    this.settings.setConfig(queue, config);
    if (config.groupConcurrency !== cap) this.groups.recap(queue, config.groupConcurrency);
    this.#t.woken.add(queue); // (its limits may have loosened)
    return { type: "configured", queue, config };
  }

  /**
   * Fires a schedule's slot once: the job carries the key schedule:<id>:<slotMs>, and the firing
   * only acts while `dueMs` is still the schedule's next run (a repeated proposal is a no-op).
   * `part`: its place in a merged entry, which numbers the job (`<index>-<part>`).
   */
  #fire(cmd: FireCommand, index: number, part = 0): ApplyResult {
    const row = this.schedules.get(cmd.id);
    const none: ApplyResult = { type: "fired", id: cmd.id, jobId: null };
    if (!row || row.next_run_at !== cmd.dueMs) return none;
    const spec = scheduleView(row);
    if (cmd.slotMs === null || (spec.overlap === "skip" && this.#busy(row.last_job_id))) {
      this.schedules.advance(cmd.id, cmd.nextRunAt);
      return none;
    }
    const job = {
      payload: spec.payload.text,
      delayMs: 0,
      priority: spec.priority ?? 0,
      idempotencyKey: `schedule:${cmd.id}:${cmd.slotMs}`,
      ...(spec.maxAttempts !== undefined ? { maxAttempts: spec.maxAttempts } : {}),
    };
    const r = this.#enqueues.enqueue(spec.queue, [job], index, part);
    const jobId = r.type === "enqueued" ? r.jobs[0].id : null; // (a full queue: the slot passes)
    this.schedules.fired(cmd.id, cmd.slotMs, jobId, cmd.nextRunAt);
    return { type: "fired", id: cmd.id, jobId };
  }

  /** Whether the job a schedule last enqueued is still to run (an "overlap: skip" holds it). */
  #busy(jobId: string | null): boolean {
    const job = jobId ? this.#t.job(jobId) : undefined;
    return job !== undefined && ["ready", "delayed", "leased", "waiting"].includes(job.state);
  }

  /** Moves up to `limit` of the queue's dead letters back to ready, oldest first. */
  #retryDeadMany(queue: string, limit: number): ApplyResult {
    const t = this.#t;
    const ids = t.all<{ queue: string; id: string; grp: string }>(
      this.#q.oldestDead({ queue, limit }),
    );
    if (ids.length > 0) t.due.forget(); // (as retryDead)
    for (const job of ids) {
      t.run(this.#q.revive({ id: job.id, now: t.now }));
      this.events.record(queue, "retried", { ...job, attempts: 0 }, "ready");
    }
    for (const [[, grp], n] of tallyGroups(ids)) t.moved(queue, "dead", "ready", n, grp);
    return { type: "retriedMany", retried: ids.length };
  }

  /** Removes up to `limit` of the queue's jobs in a finished state. */
  #purge(queue: string, state: FinishedState, limit: number): ApplyResult {
    const gone = this.#t.all<{ seq: number; apart: number }>(
      this.#q.purgeState({ queue, state, limit }),
    );
    this.payloads.forget(gone);
    const purged = gone.length;
    if (purged > 0) this.#t.moved(queue, state, null, purged);
    return { type: "purged", purged };
  }

  /** For tests and the simulator: whether the due floor is at or below every due moment. */
  dueFloorHolds(): boolean {
    const earliest = this.#dueWork.earliestDue();
    return earliest === null || this.#t.due.ms <= earliest;
  }

  // ------------------------------------------------------------ reads

  /** The job; one with dependencies shows their results too (up to maxPageBytes of them). */
  getJob(id: string): JobView | null {
    const row = this.#t.job(id);
    if (!row) return null;
    const view = jobView(this.payloads.whole(row));
    if (view.dependsOn) {
      view.dependencyResults = {};
      let bytes = 0;
      for (const dep of this.listing.rowsWithin(view.dependsOn)) {
        if (dep.result === null) continue;
        bytes += dep.result.length;
        if (bytes > maxPageBytes) break;
        view.dependencyResults[dep.id] = new RawJson(dep.result);
      }
    }
    return view;
  }

  /** How many queues this replica keeps counts of in memory: those that hold jobs. */
  get countedQueues(): number {
    return this.#counts.size;
  }

  /** The queues with jobs or a setting, by name: all, or `limit` of those after `after`. */
  queueStats(after = "", limit = Infinity): QueueStats[] {
    const names = this.#queueNames();
    let lo = 0;
    for (let hi = names.length; lo < hi;) {
      const mid = (lo + hi) >>> 1;
      if (names[mid] > after) hi = mid;
      else lo = mid + 1;
    }
    return names.slice(lo, lo + limit).map((name) => {
      const { config: _, ...stats } = this.queueView(name);
      return stats;
    });
  }

  /**
   * The queues with jobs or a setting, sorted, kept until a queue comes or goes: a page of
   * GET /v1/queues then costs its own size, not a sort of every queue (20,000: 12 ms a page).
   */
  #queueNames(): readonly string[] {
    const version = `${this.#counts.namesVersion}:${this.settings.version}`;
    if (this.#sortedNames?.version !== version) {
      const names = new Set(this.#counts.withJobs());
      for (const name of this.settings.names()) names.add(name);
      this.#sortedNames = { version, names: [...names].sort() };
    }
    return this.#sortedNames.names;
  }

  /** One queue's counts, whether it is paused, and its config (zeros for a queue nobody used). */
  queueView(queue: string): QueueView {
    const setting = this.settings.get(queue);
    return { ...this.#counts.stats(queue), paused: setting.paused, config: setting.config };
  }

  /** Whether bounded work begun by an earlier entry waits for the next tick (see DueWork). */
  get workPending(): boolean {
    return this.#dueWork.workPending;
  }

  /** When a tick would change something next (see DueWork.nextDueMs); null when idle. */
  nextDueMs(retentionMs: number): number | null {
    return this.#dueWork.nextDueMs(retentionMs);
  }

  /**
   * When a claim on `queue` could take a job, by the clock `nowMs`: `nowMs` when one could now;
   * the end of the rate window when only the rate limit holds it back; null when nothing would
   * (paused, no claimable job, concurrency taken), and a long poll waits to be woken. Every claim
   * asks this first, outside any transaction: without a groupConcurrency every group with a ready
   * job is active, so the in-memory counts answer and SQLite is read only for a capped queue.
   */
  claimableAt(queue: string, nowMs: number): number | null {
    const config = this.settings.get(queue).config;
    if (this.settings.isPaused(queue) || this.#counts.of(queue, "ready") === 0) return null;
    if (config.groupConcurrency !== undefined && !this.groups.hasActive(queue)) return null;
    if (config.concurrency !== undefined) {
      if (this.#counts.of(queue, "leased") >= config.concurrency) return null;
    }
    const limit = config.rateLimit;
    if (limit && this.rates.used(queue, limit, nowMs) >= limit.max) {
      return windowStartMs(nowMs, limit.perMs) + limit.perMs;
    }
    return nowMs;
  }

  /** Up to about `max` of the queue's events after `after` (see EventLog.read). */
  readEvents(queue: string, after: EventPosition, max: number): EventRead {
    return this.events.read(queue, after, max);
  }

  /** A page of the queue's named groups with ready or leased jobs, by name after `after`. */
  groupPage(queue: string, after: string, limit: number): GroupView[] {
    return this.groups.page(queue, after, limit);
  }

  /** A page of the queue's jobs (in `state`, or any), newest first; `cursor` from the last. */
  listJobs(
    queue: string,
    state: JobState | undefined,
    limit: number,
    cursor?: number,
    group?: string,
  ): JobPage {
    return this.listing.page(queue, state, limit, cursor, group);
  }

  schedule(id: string): ScheduleView | null {
    const row = this.schedules.get(id);
    return row ? scheduleView(row) : null;
  }

  /** Up to `limit` schedules whose ids come after `after`, by id. */
  scheduleList(after = "", limit = maxSchedules): ScheduleView[] {
    return this.schedules.page(after, limit).map(scheduleView);
  }

  /** Dead letters of a queue, newest first; `before` is the cursor a previous page returned. */
  deadLetters(queue: string, limit: number, before?: { finishedAt: number; id: string }) {
    let q = this.#db.kysely.selectFrom("jobs").select(["id", "finished_at"])
      .where("queue", "=", queue).where("state", "=", sql.lit("dead"));
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb("finished_at", "<", before.finishedAt),
          eb.and([eb("finished_at", "=", before.finishedAt), eb("id", "<", before.id)]),
        ])
      );
    }
    const found = this.#db.conn.all(
      q.orderBy("finished_at", "desc").orderBy("id", "desc").limit(limit + 1),
    );
    // (ids first, then rows within the page's byte bound: see JobListing.rowsWithin)
    const rows = this.listing.rowsWithin(found.slice(0, limit).map((r) => r.id));
    const last = found.length > rows.length ? rows[rows.length - 1] : undefined;
    return {
      jobs: rows.map(jobView),
      next: last ? `${last.finished_at}:${last.id}` : null,
    };
  }

  // ------------------------------------------------------------ snapshots

  /**
   * Re-reads the applied index, the clock and the counts after a snapshot image replaced the
   * tables (the image carries its counts), and wakes long polls.
   */
  reload(): void {
    this.#readState();
    this.#counts.load();
    this.settings.load();
    this.#rereadDerived();
    for (const queue of this.#counts.queues()) this.onReady(queue, this.#counts.of(queue, "ready"));
  }
}
