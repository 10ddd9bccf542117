// The replicated job queue: applies committed entries to SQLite tables, deterministically.

import { DueFloor } from "./due_floor.ts";
import { type CompiledQuery, sql } from "kysely";
import type { Entry } from "../raft/mod.ts";
import type { Database } from "../storage/database.ts";
import { isDeterministicFailure } from "../storage/errors.ts";
import { BulkInsert } from "../storage/bulk_insert.ts";
import { queryPlan } from "../storage/prepared.ts";
import {
  type IdempotencyTable,
  type JobsTable,
  type JobState,
  jobStates,
  type QueueCountsTable,
  type QueueGroupsTable,
} from "../storage/schema.ts";
import { retryDelayMs } from "./backoff.ts";
import {
  decodeCommand,
  type FinishedState,
  finishedStates,
  type FlowJob,
  type NewJob,
  type QueueCommand,
  type WorkerCommand,
} from "./commands.ts";
import { RawJson } from "./json_text.ts";
import { type JobView, jobView } from "./job_view.ts";
import { JobListing, type JobPage, maxPageBytes } from "./job_listing.ts";
import { maxSchedules, ScheduleStore, type ScheduleView, scheduleView } from "./schedules.ts";

export { type JobView, jobView };
import { type QueueConfig, QueueSettings } from "./queue_settings.ts";
import { GroupStore, type GroupView, noGroup } from "./groups.ts";
import { RateWindows, windowStartMs } from "./rate_limit.ts";
import { DependencyStore } from "./dependencies.ts";
import { EventLog, type EventPosition, type EventRead, type EventType } from "./events.ts";
import { jobQueries } from "./job_queries.ts";
import { JobPayloads } from "./job_payloads.ts";
import { jobId, jobSeq, leaseOf } from "./job_ids.ts";

export const idempotencyWindowMs = 24 * 60 * 60 * 1000;
/** What jobs and claims get when neither they nor their queue's config say. */
export const defaultMaxAttempts = 5;
export const defaultLeaseMs = 30_000;
/** Rows a single tick purges at most, so one entry never stalls the apply loop. */
const purgeBatchRows = 1000;

export interface ClaimedJob {
  id: string;
  payload: RawJson;
  attempt: number;
  lease: string;
  leaseExpiresAt: number;
}

export type ApplyError = {
  type: "error";
  code:
    | "lease_mismatch"
    | "queue_full"
    | "cancelled"
    | "not_found"
    | "conflict"
    | "invalid_command"
    | "apply_failed";
  message: string;
};

export type ApplyResult =
  | {
    type: "enqueued";
    jobs: { id: string; state: JobState; deduplicated: boolean }[];
  }
  | { type: "claimed"; jobs: ClaimedJob[] }
  | { type: "flowCreated"; ids: string[] }
  /** The answers to the requests merged into one entry (enqueues or worker commands), in order. */
  | { type: "parts"; parts: ApplyResult[] }
  /** `next`: the jobs the ack's `next` claim leased (present when it asked). */
  | { type: "acked"; id: string; next?: ClaimedJob[] }
  | { type: "nacked"; id: string; state: JobState }
  | { type: "extended"; id: string; leaseExpiresAt: number }
  | { type: "released"; id: string; state: JobState }
  | { type: "progressed"; id: string }
  | { type: "cancelled"; id: string }
  | { type: "retried"; id: string }
  | { type: "paused"; queue: string; paused: boolean }
  | { type: "configured"; queue: string; config: QueueConfig }
  | { type: "retriedMany"; retried: number }
  | { type: "purged"; purged: number }
  | { type: "scheduleSet"; schedule: ScheduleView }
  | { type: "scheduleDeleted"; id: string }
  | { type: "fired"; id: string; jobId: string | null }
  | { type: "ticked"; expired: number; purged: number }
  | { type: "none" }
  | ApplyError;

export interface QueueStats {
  name: string;
  /** Claims hand out nothing while paused. */
  paused: boolean;
  ready: number;
  delayed: number;
  leased: number;
  done: number;
  dead: number;
  cancelled: number;
  expired: number;
  /** Jobs waiting for their dependencies. */
  waiting: number;
}

/** GET /v1/queues/:queue: the counts, and the settings. */
export interface QueueView extends QueueStats {
  config: QueueConfig;
}

/** The in-memory state at a point of an apply: indexes, clock, tallies, a journal position. */
interface ApplyMark {
  applied: number;
  settingsVersion: number;
  now: number;
  tallies: QueueStateMachine["tallies"];
  at: number;
}

const emptyStats = (name: string): QueueStats => ({
  name,
  paused: false,
  ready: 0,
  delayed: 0,
  leased: 0,
  done: 0,
  dead: 0,
  cancelled: 0,
  expired: 0,
  waiting: 0,
});

/** How many of a queue's jobs are in any of `states`. */
const jobsIn = (c: QueueStats, states: readonly JobState[]) =>
  states.reduce((n, state) => n + c[state], 0);

/** How many of `rows` are in each queue and group, in first-seen order (the same on replicas). */
function tallyGroups(rows: readonly { queue: string; grp: string }[]) {
  const byKey = new Map<string, [[string, string], number]>();
  for (const r of rows) {
    const key = JSON.stringify([r.queue, r.grp]);
    const seen = byKey.get(key);
    if (seen) seen[1]++;
    else byKey.set(key, [[r.queue, r.grp], 1]);
  }
  return byKey.values();
}

/** New rows, and ready jobs by group, written together (see #enqueueParts). */
interface EnqueueRun {
  rows: JobsTable[];
  readyByGroup: Map<string, number>;
}

const newEnqueueRun = (): EnqueueRun => ({ rows: [], readyByGroup: new Map() });

/** A job whose enqueue reads nothing back: no idempotency or unique key, no dependencies. */
const isPlainJob = (job: NewJob): boolean =>
  job.idempotencyKey === undefined && job.uniqueKey === undefined && job.dependsOn === undefined;

/** The event a job's end is announced by. */
const finishEvents: Record<"done" | "dead" | "cancelled" | "expired", EventType> = {
  done: "acked",
  dead: "dead",
  cancelled: "cancelled",
  expired: "expired",
};

const err = (code: ApplyError["code"], message: string): ApplyError => ({
  type: "error",
  code,
  message,
});

/** The row of a job just enqueued. */
function newJobRow(
  id: string,
  queue: string,
  state: JobState,
  seq: number,
  job: NewJob,
  now: number,
  maxAttempts: number,
  depsLeft: number,
): JobsTable {
  return {
    id,
    queue,
    state,
    priority: job.priority,
    seq,
    payload: job.payload,
    result: null,
    progress: null,
    last_error: null,
    attempts: 0,
    max_attempts: maxAttempts,
    available_at: now + job.delayMs,
    lease: null,
    lease_expires_at: null,
    worker: null,
    idempotency_key: job.idempotencyKey ?? null,
    created_at: now,
    updated_at: now,
    finished_at: null,
    unique_key: job.uniqueKey ?? null,
    expire_at: job.ttlMs === undefined ? null : now + job.delayMs + job.ttlMs,
    grp: job.group ?? noGroup,
    depends_on: job.dependsOn ? JSON.stringify(job.dependsOn) : null,
    deps_left: depsLeft,
    on_failure: job.onFailure === "ignore" ? "ignore" : null,
  };
}

/** A jobs row's values in column order, as Kysely binds a multi-row INSERT's parameters. */
function jobParams(r: JobsTable): unknown[] {
  return [
    r.id,
    r.queue,
    r.state,
    r.priority,
    r.seq,
    r.payload,
    r.result,
    r.progress,
    r.last_error,
    r.attempts,
    r.max_attempts,
    r.available_at,
    r.lease,
    r.lease_expires_at,
    r.worker,
    r.idempotency_key,
    r.created_at,
    r.updated_at,
    r.finished_at,
    r.unique_key,
    r.expire_at,
    r.grp,
    r.depends_on,
    r.deps_left,
    r.on_failure,
  ];
}

/**
 * Applies entries in log order. Never reads the local clock or random numbers: time is the
 * highest leader stamp seen so far, so every replica ends with identical tables. The applied
 * index is written in the same transaction as the changes it covers.
 */
export class QueueStateMachine {
  readonly #db: Database;
  #now = 0;
  #applied = 0;
  /** No delayed job, lease or ttl falls due before this (see DueFloor). */
  readonly #due = new DueFloor();
  /** What this replica has applied since it started (for metrics and the status page). */
  readonly tallies = { enqueued: 0, completed: 0, leasesExpired: 0, deadLettered: 0, claimed: 0 };
  /** Called with a queue's name when jobs may have become ready in it (long-poll wake-up). */
  onReady: (queue: string) => void = () => {};
  /**
   * Jobs someone waits on (GET /v1/jobs/:id/wait): `wake` is called, after the apply commits, for
   * each of them that finished (done, dead or cancelled) in it.
   */
  jobWatch: { has(id: string): boolean; wake(id: string): void } = {
    has: () => false,
    wake: () => {},
  };
  /** Watched jobs finished by the applyEntries call in progress (a rollback may leave extras). */
  #settled: string[] = [];

  readonly #q;
  /** Paused queues and queue configs (O(queues), in memory and in queue_settings). */
  readonly settings: QueueSettings;
  /** Pages of a queue's jobs (GET /v1/queues/:queue/jobs). */
  readonly listing: JobListing;
  /** Long payloads, kept apart from their jobs' rows. */
  readonly payloads: JobPayloads;
  readonly schedules: ScheduleStore;
  /** Fair groups: ready and leased jobs per group, and whose turn it is. */
  readonly groups: GroupStore;
  readonly rates: RateWindows;
  /** Queues whose long polls the applyEntries call in progress wakes. */
  #woken = new Set<string>();
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
  /** Whether the entry being applied is answered (see answered). */
  #answering = true;
  readonly #insertJobs: BulkInsert<JobsTable>;
  /**
   * Jobs per queue and state, kept up to date by every transition apply makes and written to
   * queue_counts in the same transaction (read back at start-up and after a snapshot install):
   * queue depths for /v1/queues, /admin/status and /metrics cost O(queues), never a count.
   */
  #counts = new Map<string, QueueStats>();
  /** Count moves made by the applyEntries call in progress, so a rollback can undo them. */
  #journal: [string, JobState | null, JobState | null, number][] | null = null;

  /**
   * `eventsRetained`, `settlesPerEntry`: tests keep fewer events and settle fewer dependents an
   * entry (every replica must use the same numbers).
   */
  constructor(db: Database, options: { eventsRetained?: number; settlesPerEntry?: number } = {}) {
    this.#db = db;
    const k = db.kysely;
    this.#insertJobs = new BulkInsert((rows) => k.insertInto("jobs").values(rows), jobParams);
    this.#q = jobQueries(k);
    this.#loadCounts();
    this.settings = new QueueSettings(db);
    this.payloads = new JobPayloads(db);
    this.listing = new JobListing(db, this.payloads);
    this.schedules = new ScheduleStore(db);
    this.groups = new GroupStore(db);
    this.rates = new RateWindows(db);
    this.events = new EventLog(db, options.eventsRetained);
    this.deps = new DependencyStore(db, options.settlesPerEntry);
    const row = this.#all<{ applied_index: number; now_ms: number }>(this.#q.state({}))[0];
    this.#applied = row?.applied_index ?? 0;
    this.#now = row?.now_ms ?? 0;
  }

  #all<R>(q: CompiledQuery): R[] {
    return this.#db.conn.executeCompiled<R>(q).rows;
  }

  #run(q: CompiledQuery): number {
    return this.#db.conn.executeCompiled(q).changes;
  }

  /** Reads the counts the table holds (kept by every apply: a few rows, never a count). */
  #loadCounts(): void {
    this.#counts.clear();
    for (const r of this.#all<QueueCountsTable>(this.#q.counts({}))) {
      this.#count(r.queue, null, r.state, Number(r.n));
    }
  }

  /** Writes the counts that moves since `mark` changed (inside the transaction), one row each. */
  #saveCounts(mark: ApplyMark): void {
    const changed = new Map<string, Set<JobState>>();
    for (const [queue, from, to] of (this.#journal ?? []).slice(mark.at)) {
      const states = changed.get(queue) ?? changed.set(queue, new Set()).get(queue)!;
      if (from) states.add(from);
      if (to) states.add(to);
    }
    for (const [queue, states] of changed) {
      const c = this.#counts.get(queue)!;
      for (const state of states) {
        const n = c[state];
        this.#run(
          n > 0 ? this.#q.saveCount({ queue, state, n }) : this.#q.dropCount({ queue, state }),
        );
      }
    }
  }

  /**
   * Records `n` jobs of `queue` (all of group `grp`) leaving state `from` (null: new) for `to`
   * (null: deleted): the counts, the group's ready and leased jobs, and the long polls to wake (a
   * job became ready, or a lease ended, which may free a concurrency limit). `groupRow`: the
   * group's row as the caller just read it, when nothing has written it since.
   */
  #moved(
    queue: string,
    from: JobState | null,
    to: JobState | null,
    n = 1,
    grp?: string,
    groupRow?: QueueGroupsTable,
  ): void {
    this.#count(queue, from, to, n);
    const readyDelta = (to === "ready" ? n : 0) - (from === "ready" ? n : 0);
    const leasedDelta = (to === "leased" ? n : 0) - (from === "leased" ? n : 0);
    if (readyDelta !== 0 || leasedDelta !== 0) {
      if (grp === undefined) throw new Error(`a move ${from} -> ${to} in ${queue} needs a group`);
      const cap = this.settings.get(queue).config.groupConcurrency;
      this.groups.adjust(queue, grp, readyDelta, leasedDelta, cap, to === "leased", groupRow);
    }
    if (to === "ready" || from === "leased") this.#woken.add(queue);
  }

  /** The counts of #moved alone. */
  #count(queue: string, from: JobState | null, to: JobState | null, n: number): void {
    let c = this.#counts.get(queue);
    if (!c) {
      c = emptyStats(queue);
      this.#counts.set(queue, c);
    }
    if (from) c[from] -= n;
    if (to) c[to] += n;
    this.#journal?.push([queue, from, to, n]);
  }

  /** Ends a job as done, dead or cancelled (its lease cleared), and counts the move. */
  #finish(
    job: { id: string; queue: string; state: JobState; grp: string; attempts: number },
    to: FinishedState,
    result: string | null,
    error: string | null,
  ): void {
    this.#end(job, to, result, error);
    this.deps.ended(job.id, to, this.#tell);
  }

  /** #finish, without telling the jobs that wait for it. */
  #end(
    job: { id: string; queue: string; state: JobState; grp: string; attempts: number },
    to: FinishedState,
    result: string | null,
    error: string | null,
  ): void {
    this.#run(this.#q.finish({ id: job.id, state: to, result, error, now: this.#now }));
    this.#moved(job.queue, job.state, to, 1, job.grp);
    this.events.record(job.queue, finishEvents[to], job, to, to === "done" ? null : error);
    if (to === "dead") this.tallies.deadLettered++;
    if (this.jobWatch.has(job.id)) this.#settled.push(job.id);
  }

  /**
   * Tells a job waiting for one that ended: a done one (or any, for `onFailure: "ignore"`) brings
   * it a step nearer to ready; a failed one ends it dead (true: its own are told in turn).
   */
  #tell = (jobId: string, depId: string, depState: FinishedState): boolean => {
    const job = this.#job(jobId);
    if (!job || job.state !== "waiting") return false; // (cancelled, or failed by another)
    if (depState === "done" || job.on_failure === "ignore") {
      this.#dependencyMet(job);
      return false;
    }
    this.#end(job, "dead", null, `dependency ${depId} ended ${depState}`);
    return true;
  };

  /** One of a waiting job's dependencies ended as it needs: the last makes it ready (or delayed). */
  #dependencyMet(job: JobsTable): void {
    const now = this.#now;
    if (job.deps_left > 1) {
      this.#run(this.#q.depsLeft({ id: job.id, left: job.deps_left - 1 }));
      return;
    }
    const state = job.available_at > now ? "delayed" : "ready";
    const availableAt = Math.max(job.available_at, now);
    // (a ttlMs counts from when the job becomes available, not from its enqueue)
    const expireAt = job.expire_at === null ? null : availableAt + job.expire_at - job.available_at;
    this.#run(this.#q.unwait({ id: job.id, state, availableAt, expireAt, now }));
    this.#due.lower(state === "delayed" ? availableAt : null);
    this.#due.lower(expireAt);
    this.#moved(job.queue, "waiting", state, 1, job.grp);
    this.events.record(job.queue, "promoted", job, state);
  }

  /**
   * Creates a DAG of jobs in one entry, all or nothing: each queue's maxDepth is checked for all
   * of its jobs first, then the jobs are enqueued in order, each waiting for the earlier ones it
   * names (by their ids, which a deduplicated job gives as the job it repeats).
   */
  #flow(jobs: FlowJob[], index: number): ApplyResult {
    const byQueue = new Map<string, NewJob[]>();
    for (const f of jobs) {
      (byQueue.get(f.queue) ?? byQueue.set(f.queue, []).get(f.queue)!).push(f.job);
    }
    for (const [queue, queued] of byQueue) {
      const full = this.#overDepth(queue, queued);
      if (full) return full;
    }
    const deps = this.#dependencyStates(jobs.flatMap((f) => f.job.dependsOn ?? []));
    if (!(deps instanceof Map)) return deps;
    const ids: string[] = [];
    jobs.forEach((f, k) => {
      const dependsOn = [...(f.job.dependsOn ?? []), ...f.after.map((a) => ids[a])];
      const job = dependsOn.length > 0 ? { ...f.job, dependsOn } : f.job;
      const r = this.#enqueue(f.queue, [job], index, k);
      if (r.type !== "enqueued") throw new Error(`flow job ${k} was refused: ${JSON.stringify(r)}`);
      ids.push(r.jobs[0].id);
    });
    return { type: "flowCreated", ids };
  }

  /**
   * Requests merged into one entry: each part enqueued on its own (its own all-or-nothing, its own
   * answer). The rows and ready groups of plain parts (no keys, no dependencies: nothing read back
   * before the entry ends) wait in one run, written with the next part that is not plain and at
   * the end: one multi-row insert and one update a group for the lot, the same rows, counts and
   * group turns as part by part.
   */
  #enqueueParts(queue: string, jobs: NewJob[], parts: number[], index: number): ApplyResult {
    const run = newEnqueueRun();
    let offset = 0;
    const answers = parts.map((n) => {
      const part = jobs.slice(offset, offset + n);
      const at = offset;
      offset += n;
      if (part.every(isPlainJob)) return this.#enqueue(queue, part, index, at, run);
      this.#writeRun(queue, run);
      return this.#enqueue(queue, part, index, at);
    });
    this.#writeRun(queue, run);
    return { type: "parts", parts: answers };
  }

  /** Inserts a run's rows, then moves its ready jobs into their groups (first seen, first). */
  #writeRun(queue: string, run: EnqueueRun): void {
    if (run.rows.length > 0) {
      this.payloads.setApart(run.rows);
      this.#insertJobs.run(this.#db.conn, run.rows);
    }
    const cap = this.settings.get(queue).config.groupConcurrency;
    for (const [grp, n] of run.readyByGroup) this.groups.adjust(queue, grp, n, 0, cap, false);
    run.rows = [];
    run.readyByGroup.clear();
  }

  /** The state of each job `ids` names, looked up once; a not_found refusal if one is missing. */
  #dependencyStates(ids: readonly string[]): Map<string, JobState> | ApplyError {
    const states = new Map<string, JobState>();
    for (const id of new Set(ids)) {
      const dep = this.#job(id);
      if (!dep) return err("not_found", `job ${id} in dependsOn does not exist`);
      states.set(id, dep.state);
    }
    return states;
  }

  /**
   * How a new job with `dependsOn` starts (`states`: its dependencies' states): waiting for those
   * not ended yet, dead at once when one already failed (and it does not ignore failures), else as
   * any job.
   */
  #dependencyStart(
    job: NewJob,
    states: ReadonlyMap<string, JobState>,
  ): { left: string[]; failed: string | null } {
    const left: string[] = [];
    let failed: string | null = null;
    for (const id of new Set(job.dependsOn ?? [])) {
      const state = states.get(id)!;
      if (!(finishedStates as readonly string[]).includes(state)) left.push(id);
      else if (state !== "done" && job.onFailure !== "ignore") {
        failed ??= `dependency ${id} ended ${state}`;
      }
    }
    return { left, failed };
  }

  /** Puts a leased job back (ready or delayed until `availableAt`), counts it, wakes its queue. */
  #requeue(
    job: { id: string; queue: string; grp: string; attempts: number },
    to: "ready" | "delayed",
    availableAt: number,
    error: string | null,
  ): void {
    this.#run(this.#q.requeue({ id: job.id, state: to, availableAt, error, now: this.#now }));
    this.#due.lower(to === "delayed" ? availableAt : null);
    this.#moved(job.queue, "leased", to, 1, job.grp);
    this.events.record(job.queue, "nacked", job, to, error);
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
    return this.#now;
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
    this.#woken = new Set<string>();
    this.#eventQueues = new Set<string>();
    this.#journal = [];
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
        this.#saveCounts(start);
        this.#run(this.#q.saveState({ applied: this.#applied, now: this.#now }));
      });
    } catch (error) {
      this.#rollbackTo(start); // the transaction rolled back
      throw error;
    } finally {
      this.#journal = null;
    }
    for (const queue of this.#woken) this.onReady(queue);
    for (const queue of this.#eventQueues) this.onEvents(queue);
    const settled = this.#settled;
    this.#settled = [];
    for (const id of settled) this.jobWatch.wake(id);
    return results;
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
        err("apply_failed", `the command could not be applied (${reason}); nothing changed`),
      );
      this.#applied = e.index;
    }
  }

  /** Where the in-memory state stands, to go back to if the SQL behind it is rolled back. */
  #mark(): ApplyMark {
    return {
      applied: this.#applied,
      settingsVersion: this.settings.version,
      now: this.#now,
      tallies: { ...this.tallies },
      at: this.#journal?.length ?? 0,
    };
  }

  /** Undoes the in-memory changes made since `mark` (O(changes), never a recount). */
  #rollbackTo(mark: ApplyMark): void {
    this.events.forget();
    if (this.settings.version !== mark.settingsVersion) this.settings.load();
    this.#applied = mark.applied;
    this.#now = mark.now;
    this.#due.forget(); // (the rolled-back due work may be to do again)
    this.deps.reload();
    Object.assign(this.tallies, mark.tallies);
    const journal = this.#journal ?? [];
    while (journal.length > mark.at) {
      const [queue, from, to, n] = journal.pop()!;
      const c = this.#counts.get(queue)!;
      if (from) c[from] += n;
      if (to) c[to] -= n;
    }
  }

  #applyOne(e: Entry): ApplyResult {
    const logged = decodeCommand(e.data);
    if (!logged) return err("invalid_command", `entry ${e.index} holds no valid command`);
    this.events.begin();
    const later = logged.stampMs > this.#now;
    if (later) this.#now = logged.stampMs;
    this.deps.beginEntry(this.#tell); // (ends earlier entries kept are told first)
    if (later && this.#due.mayBeDue(this.#now)) this.#processDue();
    this.#answering = this.answered(e.index);
    const result = this.#execute(logged.cmd, e.index);
    for (const queue of this.events.flush(e.index, this.#now)) this.#eventQueues.add(queue);
    return result;
  }

  /**
   * Promotes due delayed jobs and expires due leases and ttls, as of the queue's clock: at most
   * purgeBatchRows of each an entry, the earliest first, so a million jobs due at one instant
   * never stall the apply loop (nextDueMs stays in the past, and the leader ticks again).
   */
  #processDue(): number {
    const now = this.#now;
    const limit = purgeBatchRows;
    const due = this.#all<{ id: string; queue: string; grp: string; attempts: number }>(
      this.#q.dueDelayed({ now, limit }),
    );
    for (const job of due) {
      this.#run(this.#q.promote({ id: job.id, now }));
      this.events.record(job.queue, "promoted", job, "ready");
    }
    for (const [[queue, grp], n] of tallyGroups(due)) {
      this.#moved(queue, "delayed", "ready", n, grp);
    }
    this.#expireUnclaimed();
    const expired = this.#all<
      { id: string; queue: string; grp: string; attempts: number; max_attempts: number }
    >(
      this.#q.expired({ now, limit }),
    );
    this.tallies.leasesExpired += expired.length;
    for (const j of expired) {
      if (j.attempts >= j.max_attempts) {
        this.#finish({ ...j, state: "leased" }, "dead", null, "lease expired");
      } else this.#requeue(j, "ready", now, "lease expired");
    }
    this.#due.set(this.#earliestDue());
    return expired.length;
  }

  /** When the next delayed job, lease or ttl falls due, from their indexes; null: none will. */
  #earliestDue(): number | null {
    let earliest: number | null = null;
    for (const q of [this.#q.minDelayed({}), this.#q.minLeaseExpiry({}), this.#q.minExpiry({})]) {
      const t = this.#all<{ t: number | null }>(q)[0]?.t ?? null;
      if (t !== null && (earliest === null || t < earliest)) earliest = t;
    }
    return earliest;
  }

  /** For tests and the simulator: whether the due floor is at or below every due moment. */
  dueFloorHolds(): boolean {
    const earliest = this.#earliestDue();
    return earliest === null || this.#due.ms <= earliest;
  }

  /**
   * Removes finished jobs past their queue's retention (its config's, else the node's), at most
   * purgeBatchRows in all, queue by queue in name order (the same on every replica).
   */
  #purgeFinished(nodeRetentionMs: number): number {
    let budget = purgeBatchRows;
    for (const queue of this.#queuesWithFinished()) {
      if (budget === 0) break;
      const retention = this.settings.get(queue).config.retentionMs ?? nodeRetentionMs;
      const before = this.#now - retention;
      const gone = this.#all<{ queue: string; state: JobState; seq: number; apart: number }>(
        this.#q.purgeJobs({ queue, before, limit: budget }),
      );
      this.payloads.forget(gone);
      for (const j of gone) this.#moved(j.queue, j.state, null);
      budget -= gone.length;
    }
    return purgeBatchRows - budget;
  }

  /** Queues holding done, dead, cancelled or expired jobs, by name (O(queues), from #counts). */
  #queuesWithFinished(): string[] {
    return [...this.#counts.values()]
      .filter((c) => jobsIn(c, finishedStates) > 0)
      .map((c) => c.name)
      .sort();
  }

  /** Jobs nobody claimed within their ttlMs become expired (at most purgeBatchRows an entry). */
  #expireUnclaimed(): void {
    const due = this.#all<
      { id: string; queue: string; state: JobState; grp: string; attempts: number }
    >(
      this.#q.dueExpiry({ now: this.#now, limit: purgeBatchRows }),
    );
    for (const j of due) this.#finish(j, "expired", null, "not claimed within its ttlMs");
  }

  #job(id: string): JobsTable | undefined {
    return this.#all<JobsTable>(this.#q.job({ id }))[0];
  }

  #execute(cmd: QueueCommand, index: number): ApplyResult {
    switch (cmd.type) {
      case "enqueue":
        return cmd.parts
          ? this.#enqueueParts(cmd.queue, cmd.jobs, cmd.parts, index)
          : this.#enqueue(cmd.queue, cmd.jobs, index);
      case "flow":
        return this.#flow(cmd.jobs, index);
      case "claim":
      case "ack":
      case "nack":
      case "extend":
      case "release":
      case "progress":
        return this.#worker(cmd, leaseOf(index));
      case "merged":
        return {
          type: "parts",
          parts: cmd.cmds.map((c, part) => this.#worker(c, leaseOf(index, part))),
        };
      case "cancel":
        return this.#cancel(cmd.id);
      case "retryDead":
        return this.#retryDead(cmd.queue, cmd.id);
      case "setSchedule":
        return this.#setSchedule(cmd);
      case "deleteSchedule":
        if (!this.schedules.remove(cmd.id)) {
          return err("not_found", `schedule ${cmd.id} does not exist`);
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
        if (!cmd.paused) this.#woken.add(cmd.queue);
        return { type: "paused", queue: cmd.queue, paused: cmd.paused };
      }
      case "tick": {
        const expired = this.#processDue();
        const purged = this.#purgeFinished(cmd.retentionMs);
        this.#run(this.#q.purgeIdem({ before: this.#now, limit: purgeBatchRows }));
        return { type: "ticked", expired, purged };
      }
    }
  }

  #cancel(id: string): ApplyResult {
    const job = this.#job(id);
    if (!job) return err("not_found", `job ${id} does not exist`);
    if (job.state === "done") return err("conflict", `job ${id} is already done`);
    if (job.state !== "cancelled") this.#finish(job, "cancelled", null, job.last_error);
    return { type: "cancelled", id: job.id };
  }

  #retryDead(queue: string, id: string): ApplyResult {
    const job = this.#job(id);
    if (!job || job.queue !== queue) return err("not_found", `job ${id} is not in queue ${queue}`);
    if (job.state !== "dead") return err("conflict", `job ${id} is ${job.state}, not dead`);
    this.#run(this.#q.revive({ id: job.id, now: this.#now }));
    this.#due.forget(); // (a job revived ready keeps its expire_at, if it had one)
    this.#moved(job.queue, "dead", "ready", 1, job.grp);
    this.events.record(job.queue, "retried", { ...job, attempts: 0 }, "ready");
    return { type: "retried", id: job.id };
  }

  #setSchedule(cmd: Extract<QueueCommand, { type: "setSchedule" }>): ApplyResult {
    if (!this.schedules.get(cmd.id) && this.schedules.count() >= maxSchedules) {
      return err(
        "conflict",
        `the cluster holds ${maxSchedules} schedules, the most it may: delete one first`,
      );
    }
    this.schedules.save(cmd.id, cmd.spec, cmd.nextRunAt, this.#now);
    return { type: "scheduleSet", schedule: scheduleView(this.schedules.get(cmd.id)!) };
  }

  #configure(queue: string, config: QueueConfig): ApplyResult {
    const cap = this.settings.get(queue).config.groupConcurrency;
    this.settings.setConfig(queue, config);
    if (config.groupConcurrency !== cap) this.groups.recap(queue, config.groupConcurrency);
    this.#woken.add(queue); // (its limits may have loosened)
    return { type: "configured", queue, config };
  }

  /** A worker's command; `lease`: what a claim in it (an ack's `next` too) leases under. */
  #worker(cmd: WorkerCommand, lease: string): ApplyResult {
    if (cmd.type === "claim") return this.#claim(cmd, lease);
    const done = this.#workerCommand(cmd);
    if (cmd.type !== "ack" || !cmd.next || done.type !== "acked") return done;
    const claimed = this.#claim({ type: "claim", ...cmd.next }, lease);
    return { ...done, next: claimed.type === "claimed" ? claimed.jobs : [] };
  }

  /** A worker's command on a job it holds a lease on: ack, nack, extend, release, progress. */
  #workerCommand(
    cmd: Extract<QueueCommand, { type: "ack" | "nack" | "extend" | "release" | "progress" }>,
  ): ApplyResult {
    const now = this.#now;
    switch (cmd.type) {
      case "ack": {
        const job = this.#job(cmd.id);
        if (!job) return err("not_found", `job ${cmd.id} does not exist`);
        // A retried ack of the same lease is answered as the first was: completion stays single.
        if (job.state === "done" && job.lease === cmd.lease) return { type: "acked", id: job.id };
        if (job.state !== "leased" || job.lease !== cmd.lease) return this.#mismatch(job);
        this.#finish(job, "done", cmd.result ?? null, job.last_error);
        this.tallies.completed++;
        return { type: "acked", id: job.id };
      }
      case "nack": {
        const job = this.#leasedJob(cmd);
        if ("type" in job) return job;
        const error = cmd.error ?? job.last_error;
        if (cmd.final || job.attempts >= job.max_attempts) {
          this.#finish(job, "dead", null, error);
          return { type: "nacked", id: job.id, state: "dead" };
        }
        const backoff = this.settings.get(job.queue).config.backoff;
        const delay = cmd.retryDelayMs ?? retryDelayMs(job.id, job.attempts, backoff);
        const state = delay > 0 ? "delayed" : "ready";
        this.#requeue(job, state, now + delay, error);
        return { type: "nacked", id: job.id, state };
      }
      case "extend": {
        const job = this.#leasedJob(cmd);
        if ("type" in job) return job;
        this.#run(this.#q.extend({ id: job.id, expires: now + cmd.leaseMs, now }));
        this.#due.lower(now + cmd.leaseMs);
        return { type: "extended", id: job.id, leaseExpiresAt: now + cmd.leaseMs };
      }
      case "release": {
        const job = this.#leasedJob(cmd);
        if ("type" in job) return job;
        const delay = cmd.delayMs ?? 0;
        const state = delay > 0 ? "delayed" : "ready";
        this.#run(this.#q.release({ id: job.id, state, availableAt: now + delay, now }));
        this.#due.lower(state === "delayed" ? now + delay : null);
        this.#moved(job.queue, "leased", state, 1, job.grp);
        this.events.record(job.queue, "released", { ...job, attempts: job.attempts - 1 }, state);
        return { type: "released", id: job.id, state };
      }
      case "progress": {
        const job = this.#leasedJob(cmd);
        if ("type" in job) return job;
        this.#run(this.#q.progress({ id: job.id, progress: cmd.progress, now }));
        this.events.record(job.queue, "progress", job, "leased");
        return { type: "progressed", id: job.id };
      }
    }
  }

  /**
   * Leases up to `max` ready jobs under one `lease` (see leaseOf): none while paused, no more
   * than the queue's concurrency and rate window leave, taken round-robin across its groups.
   */
  #claim(cmd: Extract<QueueCommand, { type: "claim" }>, lease: string): ApplyResult {
    const now = this.#now;
    const config = this.settings.get(cmd.queue).config;
    const expires = now + (cmd.leaseMs ?? config.leaseMs ?? defaultLeaseMs);
    this.#due.lower(expires);
    const room = this.#claimRoom(cmd.queue, config, cmd.max, now);
    const rows = this.#leaseRoundRobin(cmd.queue, room, config.groupConcurrency, (row) => {
      this.#run(this.#q.lease({ id: row.id, lease, expires, worker: cmd.worker, now }));
      this.events.record(cmd.queue, "claimed", { ...row, attempts: row.attempts + 1 }, "leased");
    });
    if (config.rateLimit && rows.length > 0) {
      this.rates.add(cmd.queue, config.rateLimit, now, rows.length);
    }
    this.tallies.claimed += rows.length;
    return {
      type: "claimed",
      jobs: rows.map((row) => ({
        id: row.id,
        payload: this.#answering
          ? new RawJson(this.payloads.textOf(row))
          : this.payloads.unread(row),
        attempt: row.attempts + 1,
        lease,
        leaseExpiresAt: expires,
      })),
    };
  }

  /** How many jobs a claim of `max` may take now: paused, concurrency, rate window. */
  #claimRoom(queue: string, config: QueueConfig, max: number, nowMs: number): number {
    if (this.settings.isPaused(queue)) return 0;
    let room = max;
    if (config.concurrency !== undefined) {
      room = Math.min(room, config.concurrency - (this.#counts.get(queue)?.leased ?? 0));
    }
    if (config.rateLimit) {
      room = Math.min(room, config.rateLimit.max - this.rates.used(queue, config.rateLimit, nowMs));
    }
    return Math.max(0, room);
  }

  /**
   * Takes up to `room` ready jobs, round after round: each round reads the active groups whose
   * turn comes first and takes an even share of what is left from each (one job each when there
   * are more groups than room), best first inside a group. A served group goes to the back.
   */
  #leaseRoundRobin(
    queue: string,
    room: number,
    cap: number | undefined,
    lease: (row: JobsTable) => void,
  ): JobsTable[] {
    const taken: JobsTable[] = [];
    while (taken.length < room) {
      const groups = this.groups.next(queue, room - taken.length);
      const before = taken.length;
      const share = Math.max(1, Math.floor((room - taken.length) / Math.max(1, groups.length)));
      for (const g of groups) {
        const headroom = g.grp === noGroup || cap === undefined ? share : cap - g.leased;
        const limit = Math.min(share, headroom, room - taken.length);
        if (limit <= 0) continue;
        const rows = this.#all<JobsTable>(this.#q.best({ queue, grp: g.grp, limit }));
        for (const row of rows) lease(row);
        this.#moved(queue, "ready", "leased", rows.length, g.grp, g); // (g: read just now)
        taken.push(...rows);
      }
      if (taken.length === before) break; // (no active group had a job: nothing more to take)
    }
    return taken;
  }

  /**
   * Fires a schedule's slot once: the job carries the key schedule:<id>:<slotMs>, and the firing
   * only acts while `dueMs` is still the schedule's next run (a repeated proposal is a no-op).
   */
  #fire(
    cmd: Extract<QueueCommand, { type: "fire" }>,
    index: number,
  ): ApplyResult {
    const row = this.schedules.get(cmd.id);
    const none: ApplyResult = { type: "fired", id: cmd.id, jobId: null };
    if (!row || row.next_run_at !== cmd.dueMs) return none;
    const spec = scheduleView(row);
    const previous = row.last_job_id ? this.#job(row.last_job_id) : undefined;
    const busy = previous && ["ready", "delayed", "leased", "waiting"].includes(previous.state);
    if (cmd.slotMs === null || (spec.overlap === "skip" && busy)) {
      this.schedules.advance(cmd.id, cmd.nextRunAt);
      return none;
    }
    const job: NewJob = {
      payload: spec.payload.text,
      delayMs: 0,
      priority: spec.priority ?? 0,
      idempotencyKey: `schedule:${cmd.id}:${cmd.slotMs}`,
    };
    if (spec.maxAttempts !== undefined) job.maxAttempts = spec.maxAttempts;
    const r = this.#enqueue(spec.queue, [job], index);
    const jobId = r.type === "enqueued" ? r.jobs[0].id : null; // (a full queue: the slot passes)
    this.schedules.fired(cmd.id, cmd.slotMs, jobId, cmd.nextRunAt);
    return { type: "fired", id: cmd.id, jobId };
  }

  /** Moves up to `limit` of the queue's dead letters back to ready, oldest first. */
  #retryDeadMany(queue: string, limit: number): ApplyResult {
    const ids = this.#all<{ queue: string; id: string; grp: string }>(
      this.#q.oldestDead({ queue, limit }),
    );
    if (ids.length > 0) this.#due.forget(); // (as retryDead)
    for (const job of ids) {
      this.#run(this.#q.revive({ id: job.id, now: this.#now }));
      this.events.record(queue, "retried", { ...job, attempts: 0 }, "ready");
    }
    for (const [[, grp], n] of tallyGroups(ids)) this.#moved(queue, "dead", "ready", n, grp);
    return { type: "retriedMany", retried: ids.length };
  }

  /** Removes up to `limit` of the queue's jobs in a finished state. */
  #purge(queue: string, state: FinishedState, limit: number): ApplyResult {
    const gone = this.#all<{ seq: number; apart: number }>(
      this.#q.purgeState({ queue, state, limit }),
    );
    this.payloads.forget(gone);
    const purged = gone.length;
    if (purged > 0) this.#moved(queue, state, null, purged);
    return { type: "purged", purged };
  }

  /** A refusal when the jobs' new ones would take `queue` past its maxDepth; else null. */
  #overDepth(queue: string, jobs: readonly NewJob[]): ApplyError | null {
    const maxDepth = this.settings.get(queue).config.maxDepth;
    if (maxDepth === undefined) return null;
    const c = this.#counts.get(queue);
    const depth = c ? c.ready + c.delayed + c.leased + c.waiting : 0;
    const n = this.#newJobCount(queue, jobs);
    if (n === 0 || depth + n <= maxDepth) return null;
    return err(
      "queue_full",
      `queue ${queue} holds ${depth} unfinished jobs and its maxDepth is ${maxDepth}: ${n} more do not fit`,
    );
  }

  /** How many of `jobs` an enqueue would add (the others repeat an idempotency or unique key). */
  #newJobCount(queue: string, jobs: readonly NewJob[]): number {
    const keys = new Set<string>();
    const uniques = new Set<string>();
    let n = 0;
    for (const { idempotencyKey: key, uniqueKey: unique } of jobs) {
      if (key !== undefined) {
        if (keys.has(key)) continue;
        keys.add(key);
        const seen = this.#all<IdempotencyTable>(this.#q.idem({ queue, key }))[0];
        if (seen && seen.expires_at > this.#now) continue;
      }
      if (unique !== undefined) {
        if (uniques.has(unique) || this.#unfinishedWith(queue, unique)) continue;
        uniques.add(unique);
      }
      n++;
    }
    return n;
  }

  /** The queue's unfinished job holding `uniqueKey`, if any (the jobs_unique index). */
  #unfinishedWith(queue: string, key: string): { id: string; state: JobState } | undefined {
    return this.#all<{ id: string; state: JobState }>(this.#q.unfinishedByKey({ queue, key }))[0];
  }

  /** The job a lease-bearing command acts on while it holds that lease, or why it cannot. */
  #leasedJob(cmd: { id: string; lease: string }): JobsTable | ApplyError {
    const job = this.#job(cmd.id);
    if (!job) return err("not_found", `job ${cmd.id} does not exist`);
    if (job.state !== "leased" || job.lease !== cmd.lease) return this.#mismatch(job);
    return job;
  }

  /** Why a lease-bearing command cannot act: the lease is old, or its job was cancelled. */
  #mismatch(job: JobsTable): ApplyError {
    if (job.state === "cancelled") {
      return err("cancelled", `job ${job.id} was cancelled: stop working on it`);
    }
    return err(
      "lease_mismatch",
      `that lease is no longer job ${job.id}'s (the job is ${job.state}${
        job.state === "leased" ? " under a newer lease" : ""
      })`,
    );
  }

  /**
   * Enqueues `jobs` (their ids `<index>-<offset + k>`) in multi-row inserts, all or nothing: a
   * queue at maxDepth or a dependency that does not exist refuses the whole batch. A job with
   * dependencies not ended yet starts `waiting`. Given a `run` (plain jobs only), the rows and
   * ready groups join it for the caller to write; the counts move at once, so the next part's
   * maxDepth check sees these jobs.
   */
  #enqueue(
    queue: string,
    jobs: NewJob[],
    index: number,
    offset = 0,
    run?: EnqueueRun,
  ): ApplyResult {
    const full = this.#overDepth(queue, jobs);
    if (full) return full;
    const deps = this.#dependencyStates(jobs.flatMap((j) => j.dependsOn ?? []));
    if (!(deps instanceof Map)) return deps;
    const now = this.#now;
    const config = this.settings.get(queue).config;
    const out: { id: string; state: JobState; deduplicated: boolean }[] = [];
    const added: { queue: string; grp: string; state: JobState }[] = [];
    const failed: [JobsTable, string][] = [];
    const own = run ?? newEnqueueRun();
    const flush = () => this.#writeRun(queue, own);
    jobs.forEach((job, k) => {
      const seen = this.#duplicateOf(queue, job, flush);
      if (seen) return out.push(seen);
      const id = jobId(index, offset + k);
      const start = job.dependsOn ? this.#dependencyStart(job, deps) : { left: [], failed: null };
      const waits = start.left.length > 0 || start.failed !== null;
      const state: JobState = waits ? "waiting" : job.delayMs > 0 ? "delayed" : "ready";
      const maxAttempts = job.maxAttempts ?? config.maxAttempts ?? defaultMaxAttempts;
      const seq = jobSeq(index, offset + k);
      const row = newJobRow(id, queue, state, seq, job, now, maxAttempts, start.left.length);
      this.#due.lower(state === "delayed" ? row.available_at : null);
      this.#due.lower(row.expire_at);
      own.rows.push(row);
      for (const dep of start.left) this.deps.add(dep, id);
      if (job.idempotencyKey !== undefined) {
        const expires = now + (job.idempotencyWindowMs ?? idempotencyWindowMs);
        this.#run(this.#q.saveIdem({ queue, key: job.idempotencyKey, jobId: id, now, expires }));
      }
      added.push({ queue, grp: row.grp, state });
      if (start.failed) failed.push([row, start.failed]);
      this.tallies.enqueued++;
      this.events.record(queue, "enqueued", row, state);
      out.push({ id, state: start.failed ? "dead" : state, deduplicated: false });
    });
    this.#countNew(queue, added, own);
    if (!run) flush();
    // (a dependency had already failed: the job ends at once, after its enqueue is counted)
    for (const [row, why] of failed) this.#end(row, "dead", null, why);
    return { type: "enqueued", jobs: out };
  }

  /**
   * The answer for a job whose idempotency key (within its window) or unique key (while its job
   * is unfinished) was seen; else null. The rows gathered so far are written first, so a key
   * repeated within the batch finds its first job.
   */
  #duplicateOf(
    queue: string,
    job: NewJob,
    flush: () => void,
  ): { id: string; state: JobState; deduplicated: true } | null {
    if (job.idempotencyKey !== undefined) {
      flush();
      const seen = this.#all<IdempotencyTable>(this.#q.idem({ queue, key: job.idempotencyKey }))[0];
      if (seen && seen.expires_at > this.#now) {
        const first = this.#job(seen.job_id);
        return { id: seen.job_id, state: first?.state ?? "done", deduplicated: true };
      }
    }
    if (job.uniqueKey !== undefined) {
      flush();
      const held = this.#unfinishedWith(queue, job.uniqueKey);
      if (held) return { id: held.id, state: held.state, deduplicated: true };
    }
    return null;
  }

  /**
   * Counts new jobs by state; ready ones join `run` by group, for #writeRun to move into their
   * groups (a batch of 1,000 writes its group's row once).
   */
  #countNew(
    queue: string,
    added: readonly { queue: string; grp: string; state: JobState }[],
    run: EnqueueRun,
  ) {
    const ready = added.filter((a) => a.state === "ready");
    for (const [[, grp], n] of tallyGroups(ready)) {
      this.#count(queue, null, "ready", n);
      run.readyByGroup.set(grp, (run.readyByGroup.get(grp) ?? 0) + n);
      this.#woken.add(queue);
    }
    for (const state of ["delayed", "waiting"] as const) {
      const n = added.filter((a) => a.state === state).length;
      if (n > 0) this.#moved(queue, null, state, n);
    }
  }

  // ------------------------------------------------------------ reads

  /** The job; one with dependencies shows their results too (up to maxPageBytes of them). */
  getJob(id: string): JobView | null {
    const row = this.#job(id);
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

  /** Every queue with jobs or a setting, by name. */
  queueStats(): QueueStats[] {
    const names = new Set(
      [...this.#counts.values()].filter((c) => jobsIn(c, jobStates) > 0).map((c) => c.name),
    );
    for (const name of this.settings.names()) names.add(name);
    return [...names].sort().map((name) => {
      const { config: _, ...stats } = this.queueView(name);
      return stats;
    });
  }

  /** One queue's counts, whether it is paused, and its config (zeros for a queue nobody used). */
  queueView(queue: string): QueueView {
    const c = this.#counts.get(queue) ?? emptyStats(queue);
    const setting = this.settings.get(queue);
    return { ...c, paused: setting.paused, config: setting.config };
  }

  /**
   * The earliest wall-clock time at which a tick command would change something: a delayed job
   * due, a lease expiring, a finished job or an idempotency key past retention, or now while a
   * job's end has waiting jobs still to be told. Null when idle.
   */
  nextDueMs(retentionMs: number): number | null {
    if (this.deps.pending) return this.#now; // (ends whose waiting jobs are still to be told)
    const min = (q: CompiledQuery) => this.#all<{ t: number | null }>(q)[0]?.t ?? null;
    const due = [
      this.#earliestDue(),
      ...this.#queuesWithFinished().map((queue) => {
        const finished = min(this.#q.minFinished({ queue }));
        const retention = this.settings.get(queue).config.retentionMs ?? retentionMs;
        return finished === null ? null : finished + retention;
      }),
      min(this.#q.minIdempotency({})),
    ].filter((t): t is number => t !== null);
    return due.length === 0 ? null : Math.min(...due);
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
    if (this.settings.isPaused(queue) || (this.#counts.get(queue)?.ready ?? 0) === 0) return null;
    if (config.groupConcurrency !== undefined && !this.groups.hasActive(queue)) return null;
    if (config.concurrency !== undefined) {
      if ((this.#counts.get(queue)?.leased ?? 0) >= config.concurrency) return null;
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

  scheduleList(): ScheduleView[] {
    return this.schedules.all().map(scheduleView);
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
    const row = this.#all<{ applied_index: number; now_ms: number }>(this.#q.state({}))[0];
    this.#applied = row?.applied_index ?? 0;
    this.#now = row?.now_ms ?? 0;
    this.#due.forget();
    this.#loadCounts();
    this.settings.load();
    this.events.forget();
    this.deps.reload();
    for (const queue of this.#counts.keys()) this.onReady(queue);
  }
}
