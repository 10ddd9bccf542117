// A worker's commands applied: claims round-robin across groups, acks, nacks, extends, releases.

import type { JobsTable } from "../storage/schema.ts";
import { retryDelayMs } from "./backoff.ts";
import type { QueueCommand, WorkerCommand } from "./commands.ts";
import { noGroup, recapJobsPerEntry } from "./groups.ts";
import type { JobPayloads } from "./job_payloads.ts";
import { seqOfId } from "./job_ids.ts";
import { RawJson } from "./json_text.ts";
import type { QueueConfig } from "./queue_settings.ts";
import type { LeaseFields } from "./ready_runs.ts";
import type { RateWindows } from "./rate_limit.ts";
import { type ApplyError, type ApplyResult, refusal } from "./results.ts";
import type { Transitions } from "./transitions.ts";

/** The lease a claim gets when neither it nor its queue's config says. */
export const defaultLeaseMs = 30_000;

/** The most jobs claims in a row ask for that claimMany reads and leases at once. */
export const claimsTogetherJobs = 1000;

/** Jobs of runs leased by claims, each under its claim's lease, written together. */
interface RunLeases {
  rows: JobsTable[];
  fields: LeaseFields[];
}

type Claim = Extract<QueueCommand, { type: "claim" }>;
type Ack = Extract<QueueCommand, { type: "ack" }>;
type OnLeasedJob = Extract<
  QueueCommand,
  { type: "ack" | "nack" | "extend" | "release" | "progress" }
>;

/** The worker commands, applied inside QueueStateMachine's transaction. */
export class WorkerCommands {
  constructor(
    readonly t: Transitions,
    readonly payloads: JobPayloads,
    readonly rates: RateWindows,
  ) {}

  /**
   * A worker's command; `lease`: what a claim in it (an ack's `next` too) leases under;
   * `answering`: whether a writer waits for the answer (a claim's payloads are read only then).
   */
  apply(cmd: WorkerCommand, lease: string, answering: boolean): ApplyResult {
    if (cmd.type === "claim") return this.#claim(cmd, lease, answering);
    const done = this.#onLeasedJob(cmd);
    if (cmd.type !== "ack" || !cmd.next || done.type !== "acked") return done;
    const claimed = this.#claim({ type: "claim", ...cmd.next }, lease, answering);
    return { ...done, next: claimed.type === "claimed" ? claimed.jobs : [] };
  }

  /** A worker's command on a job it holds a lease on: ack, nack, extend, release, progress. */
  #onLeasedJob(cmd: OnLeasedJob): ApplyResult {
    const t = this.t;
    const now = t.now;
    if (cmd.type === "ack") return this.#ack(cmd);
    const job = this.#leasedJob(cmd);
    if ("type" in job) return job;
    switch (cmd.type) {
      case "nack": {
        const error = cmd.error ?? job.last_error;
        if (cmd.final || job.attempts >= job.max_attempts) {
          t.finish(job, "dead", null, error);
          return { type: "nacked", id: job.id, state: "dead" };
        }
        const backoff = t.settings.get(job.queue).config.backoff;
        const delay = cmd.retryDelayMs ?? retryDelayMs(job.id, job.attempts, backoff);
        const state = delay > 0 ? "delayed" : "ready";
        t.requeue(job, state, now + delay, error);
        return { type: "nacked", id: job.id, state };
      }
      case "extend": {
        t.run(t.q.extend({ id: job.id, expires: now + cmd.leaseMs, now }));
        t.due.lower(now + cmd.leaseMs);
        return { type: "extended", id: job.id, leaseExpiresAt: now + cmd.leaseMs };
      }
      case "release": {
        const delay = cmd.delayMs ?? 0;
        const state = delay > 0 ? "delayed" : "ready";
        t.run(t.q.release({ id: job.id, state, availableAt: now + delay, now }));
        t.due.lower(state === "delayed" ? now + delay : null);
        t.moved(job.queue, "leased", state, 1, job.grp);
        t.events.record(job.queue, "released", { ...job, attempts: job.attempts - 1 }, state);
        return { type: "released", id: job.id, state };
      }
      case "progress": {
        t.run(t.q.progress({ id: job.id, progress: cmd.progress, now }));
        t.events.record(job.queue, "progress", job, "leased");
        return { type: "progressed", id: job.id };
      }
    }
  }

  /**
   * Acks (without a next claim) that follow each other in a merged entry, each answered as if
   * applied alone, in turn: their jobs' rows read in one statement, and those completed in one
   * (see JobBatches). An ack whose job is not leased under its lease is applied alone at its
   * turn, reading its job again; nothing the others do can make that job leased. Acks naming a
   * job twice go one by one (the second must see the first's end).
   */
  ackMany(acks: readonly Ack[]): ApplyResult[] {
    if (new Set(acks.map((a) => a.id)).size < acks.length) return acks.map((a) => this.#ack(a));
    const t = this.t;
    const rows = new Map<string, JobsTable>();
    for (const row of t.batches.rows(acks.map((a) => seqOfId(a.id)))) rows.set(row.id, row);
    const done: { job: JobsTable; result: string | null }[] = [];
    const answers = acks.map((cmd): ApplyResult => {
      const job = rows.get(cmd.id);
      if (!job || job.state !== "leased" || job.lease !== cmd.lease) return this.#ack(cmd);
      done.push({ job, result: cmd.result ?? null });
      return { type: "acked", id: job.id };
    });
    if (done.length > 0) t.completeMany(done);
    t.tallies.completed += done.length;
    return answers;
  }

  #ack(cmd: Ack): ApplyResult {
    const job = this.t.job(cmd.id);
    if (!job) return refusal("not_found", `job ${cmd.id} does not exist`);
    // A retried ack of the same lease is answered as the first was: completion stays single.
    if (job.state === "done" && job.lease === cmd.lease) return { type: "acked", id: job.id };
    if (job.state !== "leased" || job.lease !== cmd.lease) return this.#mismatch(job);
    this.t.finish(job, "done", cmd.result ?? null, job.last_error);
    this.t.tallies.completed++;
    return { type: "acked", id: job.id };
  }

  /**
   * Leases up to `max` ready jobs under one `lease` (see leaseOf): none while paused, no more
   * than the queue's concurrency and rate window leave, taken round-robin across its groups.
   */
  #claim(cmd: Claim, lease: string, answering: boolean): ApplyResult {
    const t = this.t;
    const config = t.settings.get(cmd.queue).config;
    const f = this.#leaseFields(cmd, lease, config);
    const room = this.#claimRoom(cmd.queue, config, cmd.max, f.now);
    const fromRuns: RunLeases = { rows: [], fields: [] };
    const rows = this.#leaseRoundRobin(cmd.queue, room, config.groupConcurrency, (best) => {
      this.#leaseRows(cmd.queue, best, f, fromRuns);
      t.runs.lease(fromRuns.rows, fromRuns.fields);
      fromRuns.rows = [];
      fromRuns.fields = [];
    });
    if (config.rateLimit && rows.length > 0) {
      this.rates.add(cmd.queue, config.rateLimit, f.now, rows.length);
    }
    t.tallies.claimed += rows.length;
    return this.#claimed(rows, f, answering);
  }

  /**
   * Claims of one queue that follow each other in a merged entry, each answered as if applied
   * alone, in turn. Where the queue has no group but the group of no group and no limit on a
   * claim (not paused, no concurrency, no rate limit), the jobs the claims would take in turn are
   * the queue's best of all they ask for, in order: read once, their run jobs' rows written
   * together and each run updated once, instead of a read, a write and a run's update a claim
   * (claimsTogetherJobs jobs at most at once).
   */
  claimMany(
    claims: readonly Claim[],
    leases: readonly string[],
    answering: boolean,
  ): ApplyResult[] {
    const results: ApplyResult[] = [];
    let from = 0;
    while (from < claims.length) {
      let to = from + 1;
      let asked = claims[from].max;
      while (to < claims.length && asked + claims[to].max <= claimsTogetherJobs) {
        asked += claims[to++].max;
      }
      const some = claims.slice(from, to);
      const theirs = leases.slice(from, to);
      if (some.length > 1 && this.#claimsAlone(some[0].queue)) {
        results.push(...this.#claimTogether(some, theirs, asked, answering));
      } else results.push(...some.map((c, k) => this.#claim(c, theirs[k], answering)));
      from = to;
    }
    return results;
  }

  /** Whether the queue's claims take its best jobs, whoever else claims (see claimMany). */
  #claimsAlone(queue: string): boolean {
    const t = this.t;
    const config = t.settings.get(queue).config;
    if (t.settings.isPaused(queue) || config.concurrency !== undefined || config.rateLimit) {
      return false;
    }
    const groups = t.groups.next(queue, 2);
    return groups.length === 1 && groups[0].grp === noGroup;
  }

  #claimTogether(
    claims: readonly Claim[],
    leases: readonly string[],
    asked: number,
    answering: boolean,
  ): ApplyResult[] {
    const t = this.t;
    const queue = claims[0].queue;
    const config = t.settings.get(queue).config;
    const best = this.#best(queue, noGroup, asked);
    const fromRuns: RunLeases = { rows: [], fields: [] };
    let taken = 0;
    const results = claims.map((cmd, k) => {
      const f = this.#leaseFields(cmd, leases[k], config);
      const rows = best.slice(taken, taken + cmd.max);
      taken += rows.length;
      this.#leaseRows(queue, rows, f, fromRuns);
      return this.#claimed(rows, f, answering);
    });
    t.runs.lease(fromRuns.rows, fromRuns.fields);
    t.moved(queue, "ready", "leased", taken, noGroup);
    t.tallies.claimed += taken;
    return results;
  }

  /** The lease a claim's jobs get; its expiry lowers the due floor. */
  #leaseFields(cmd: Claim, lease: string, config: QueueConfig): LeaseFields {
    const now = this.t.now;
    const expires = now + (cmd.leaseMs ?? config.leaseMs ?? defaultLeaseMs);
    this.t.due.lower(expires);
    return { lease, expires, worker: cmd.worker, now };
  }

  /**
   * Leases `rows` (of one claim) under `f`: a row of the jobs table at once, a job of a run
   * gathered into `fromRuns` (ReadyRuns.lease writes them); each job's event recorded.
   */
  #leaseRows(queue: string, rows: readonly JobsTable[], f: LeaseFields, fromRuns: RunLeases) {
    const t = this.t;
    for (const row of rows) {
      if (t.runs.holds(row)) {
        fromRuns.rows.push(row);
        fromRuns.fields.push(f);
      } else t.run(t.q.lease({ ...f, id: row.id }));
      t.events.record(queue, "claimed", { ...row, attempts: row.attempts + 1 }, "leased");
    }
  }

  #claimed(rows: readonly JobsTable[], f: LeaseFields, answering: boolean): ApplyResult {
    return {
      type: "claimed",
      jobs: rows.map((row) => ({
        id: row.id,
        payload: answering ? new RawJson(this.payloads.textOf(row)) : this.payloads.unread(row),
        attempt: row.attempts + 1,
        lease: f.lease,
        leaseExpiresAt: f.expires,
      })),
    };
  }

  /** How many jobs a claim of `max` may take now: paused, concurrency, rate window. */
  #claimRoom(queue: string, config: QueueConfig, max: number, nowMs: number): number {
    if (this.t.settings.isPaused(queue)) return 0;
    let room = max;
    if (config.concurrency !== undefined) {
      room = Math.min(room, config.concurrency - this.t.counts.of(queue, "leased"));
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
    lease: (rows: JobsTable[]) => void,
  ): JobsTable[] {
    const t = this.t;
    const taken: JobsTable[] = [];
    let stale = 0;
    while (taken.length < room) {
      const groups = t.groups.next(queue, room - taken.length);
      const before = taken.length;
      const staleBefore = stale;
      const share = Math.max(1, Math.floor((room - taken.length) / Math.max(1, groups.length)));
      for (const g of groups) {
        const headroom = g.grp === noGroup || cap === undefined ? share : cap - g.leased;
        if (headroom <= 0) { // active by the cap before a change whose recap is under way
          t.groups.adjust(queue, g.grp, 0, 0, cap, false);
          stale++;
          continue;
        }
        const limit = Math.min(share, headroom, room - taken.length);
        if (limit <= 0) continue;
        const rows = this.#best(queue, g.grp, limit);
        lease(rows);
        t.moved(queue, "ready", "leased", rows.length, g.grp);
        taken.push(...rows);
      }
      // Nothing more to take: no active group had a job (stale groups set aside, a bounded number).
      if (taken.length === before && (stale === staleBefore || stale >= recapJobsPerEntry)) break;
    }
    return taken;
  }

  /**
   * A group's best `limit` ready jobs, in claim order; the group of no group has those of the
   * queue's ready runs too (see ReadyRuns), merged with its rows'.
   */
  #best(queue: string, grp: string, limit: number): JobsTable[] {
    const t = this.t;
    const rows = t.all<JobsTable>(t.q.best({ queue, grp, limit }));
    if (grp !== noGroup) return rows;
    const fromRuns = t.runs.best(queue, limit);
    if (fromRuns.length === 0) return rows;
    if (rows.length === 0) return fromRuns;
    return [...rows, ...fromRuns].sort(claimOrder).slice(0, limit);
  }

  /** The job a lease-bearing command acts on while it holds that lease, or why it cannot. */
  #leasedJob(cmd: { id: string; lease: string }): JobsTable | ApplyError {
    const job = this.t.job(cmd.id);
    if (!job) return refusal("not_found", `job ${cmd.id} does not exist`);
    if (job.state !== "leased" || job.lease !== cmd.lease) return this.#mismatch(job);
    return job;
  }

  /** Why a lease-bearing command cannot act: the lease is old, or its job was cancelled. */
  #mismatch(job: JobsTable): ApplyError {
    if (job.state === "cancelled") {
      return refusal("cancelled", `job ${job.id} was cancelled: stop working on it`);
    }
    return refusal(
      "lease_mismatch",
      `that lease is no longer job ${job.id}'s (the job is ${job.state}${
        job.state === "leased" ? " under a newer lease" : ""
      })`,
    );
  }
}

/** Claim order: the higher priority first, then the earlier available, then the lower seq. */
function claimOrder(a: JobsTable, b: JobsTable): number {
  return b.priority - a.priority || a.available_at - b.available_at || a.seq - b.seq;
}
