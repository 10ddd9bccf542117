// The state an apply changes and the moves a job makes in it: row, counts, group, event, wake-ups.

import type { CompiledQuery } from "kysely";
import type { Database } from "../storage/database.ts";
import type { JobsTable, JobState } from "../storage/schema.ts";
import type { FinishedState } from "./commands.ts";
import type { DependencyStore } from "./dependencies.ts";
import { DueFloor } from "./due_floor.ts";
import type { EventLog, EventType } from "./events.ts";
import type { GroupStore } from "./groups.ts";
import { type Completion, JobBatches } from "./job_batches.ts";
import type { jobQueries } from "./job_queries.ts";
import type { QueueCounts } from "./queue_counts.ts";
import type { QueueSettings } from "./queue_settings.ts";
import type { ReadyRuns } from "./ready_runs.ts";
import { seqOfId } from "./job_ids.ts";

/** The event a job's end is announced by. */
const finishEvents: Record<FinishedState, EventType> = {
  done: "acked",
  dead: "dead",
  cancelled: "cancelled",
  expired: "expired",
};

/** The fields of a job's row a move reads. */
type MovingJob = { id: string; queue: string; grp: string; attempts: number };

/**
 * What every kind of apply shares: the queue's clock, the due floor, the tallies, who to wake,
 * and the moves of a job between states, each keeping its row, the counts, its group, its event
 * and the long polls in step. Never reads the local clock: `now` is the highest leader stamp.
 */
export class Transitions {
  /** The queue's clock: the highest leader stamp applied. */
  now = 0;
  /** No delayed job, lease or ttl falls due before this (see DueFloor). */
  readonly due = new DueFloor();
  /** What this replica has applied since it started (for metrics and the status page). */
  readonly tallies = { enqueued: 0, completed: 0, leasesExpired: 0, deadLettered: 0, claimed: 0 };
  /** Queues whose long polls the apply in progress wakes. */
  woken = new Set<string>();
  /** Watched jobs finished by the apply in progress (a rollback may leave extras). */
  settled: string[] = [];
  /** Jobs someone waits on (see QueueStateMachine.jobWatch). */
  jobWatch: { has(id: string): boolean; wake(id: string): void } = {
    has: () => false,
    wake: () => {},
  };

  constructor(
    readonly db: Database,
    readonly q: ReturnType<typeof jobQueries>,
    readonly counts: QueueCounts,
    readonly settings: QueueSettings,
    readonly groups: GroupStore,
    readonly events: EventLog,
    readonly deps: DependencyStore,
    readonly runs: ReadyRuns,
  ) {
    this.batches = new JobBatches(db);
  }

  /** Jobs' rows read and completed many at a time (see completeMany). */
  readonly batches: JobBatches;

  all<R>(q: CompiledQuery): R[] {
    return this.db.conn.executeCompiled<R>(q).rows;
  }

  run(q: CompiledQuery): number {
    return this.db.conn.executeCompiled(q).changes;
  }

  /** The job, from its row or, while it has none, from its ready run (see ReadyRuns). */
  job(id: string): JobsTable | undefined {
    return this.all<JobsTable>(this.q.job({ id }))[0] ?? this.runs.job(seqOfId(id), id);
  }

  /** The job, its row written first if it was in a run: for a command about to change it. */
  jobToChange(id: string): JobsTable | undefined {
    return this.all<JobsTable>(this.q.job({ id }))[0] ?? this.runs.detach(seqOfId(id), id);
  }

  /**
   * Records `n` jobs of `queue` (all of group `grp`) leaving state `from` (null: new) for `to`
   * (null: deleted): the counts, the group's ready and leased jobs, and the long polls to wake (a
   * job became ready, or a lease ended, which may free a concurrency limit).
   */
  moved(
    queue: string,
    from: JobState | null,
    to: JobState | null,
    n = 1,
    grp?: string,
  ): void {
    this.counts.move(queue, from, to, n);
    const readyDelta = (to === "ready" ? n : 0) - (from === "ready" ? n : 0);
    const leasedDelta = (to === "leased" ? n : 0) - (from === "leased" ? n : 0);
    if (readyDelta !== 0 || leasedDelta !== 0) {
      if (grp === undefined) throw new Error(`a move ${from} -> ${to} in ${queue} needs a group`);
      const cap = this.settings.get(queue).config.groupConcurrency;
      this.groups.adjust(queue, grp, readyDelta, leasedDelta, cap, to === "leased");
    }
    if (to === "ready" || from === "leased") this.woken.add(queue);
  }

  /** Ends a job as done, dead, cancelled or expired (its lease cleared), and tells its waiters. */
  finish(
    job: MovingJob & { state: JobState },
    to: FinishedState,
    result: string | null,
    error: string | null,
  ): void {
    this.end(job, to, result, error);
    this.deps.ended(job.id, to, this.tell);
  }

  /** finish, without telling the jobs that wait for it. */
  end(
    job: MovingJob & { state: JobState },
    to: FinishedState,
    result: string | null,
    error: string | null,
  ): void {
    this.run(this.q.finish({ id: job.id, state: to, result, error, now: this.now }));
    this.#ended(job, to, error);
  }

  /**
   * Ends leased jobs done, as finish would one after another: their rows in one statement each
   * chunk, then each job's counts, event, watchers and waiting jobs in turn (none of which reads
   * the rows of the others).
   */
  completeMany(done: readonly { job: JobsTable; result: string | null }[]): void {
    const rows: Completion[] = done.map(({ job, result }) => ({ seq: job.seq, result }));
    this.batches.complete(rows, this.now);
    for (const { job } of done) {
      this.#ended(job, "done", null);
      this.deps.ended(job.id, "done", this.tell);
    }
  }

  /** What a job's end changes beside its row. */
  #ended(job: MovingJob & { state: JobState }, to: FinishedState, error: string | null): void {
    this.moved(job.queue, job.state, to, 1, job.grp);
    this.events.record(job.queue, finishEvents[to], job, to, to === "done" ? null : error);
    if (to === "dead") this.tallies.deadLettered++;
    if (this.jobWatch.has(job.id)) this.settled.push(job.id);
  }

  /**
   * Tells a job waiting for one that ended: a done one (or any, for `onFailure: "ignore"`) brings
   * it a step nearer to ready; a failed one ends it dead (true: its own are told in turn).
   */
  readonly tell = (jobId: string, depId: string, depState: FinishedState): boolean => {
    const job = this.job(jobId);
    if (!job || job.state !== "waiting") return false; // (cancelled, or failed by another)
    if (depState === "done" || job.on_failure === "ignore") {
      this.#dependencyMet(job);
      return false;
    }
    this.end(job, "dead", null, `dependency ${depId} ended ${depState}`);
    return true;
  };

  /** One of a waiting job's dependencies ended as it needs: the last makes it ready (or delayed). */
  #dependencyMet(job: JobsTable): void {
    const now = this.now;
    if (job.deps_left > 1) {
      this.run(this.q.depsLeft({ id: job.id, left: job.deps_left - 1 }));
      return;
    }
    const state = job.available_at > now ? "delayed" : "ready";
    const availableAt = Math.max(job.available_at, now);
    // (a ttlMs counts from when the job becomes available, not from its enqueue)
    const expireAt = job.expire_at === null ? null : availableAt + job.expire_at - job.available_at;
    this.run(this.q.unwait({ id: job.id, state, availableAt, expireAt, now }));
    this.due.lower(state === "delayed" ? availableAt : null);
    this.due.lower(expireAt);
    this.moved(job.queue, "waiting", state, 1, job.grp);
    this.events.record(job.queue, "promoted", job, state);
  }

  /** Puts a leased job back (ready or delayed until `availableAt`), counts it, wakes its queue. */
  requeue(
    job: MovingJob,
    to: "ready" | "delayed",
    availableAt: number,
    error: string | null,
  ): void {
    this.run(this.q.requeue({ id: job.id, state: to, availableAt, error, now: this.now }));
    this.due.lower(to === "delayed" ? availableAt : null);
    this.moved(job.queue, "leased", to, 1, job.grp);
    this.events.record(job.queue, "nacked", job, to, error);
  }
}
