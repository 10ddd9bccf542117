// Jobs per queue and state: kept in memory by every move an apply makes, saved to queue_counts.

import type { Database } from "../storage/database.ts";
import { type JobState, jobStates, type QueueCountsTable } from "../storage/schema.ts";
import { finishedStates } from "./commands.ts";
import type { jobQueries } from "./job_queries.ts";
import type { QueueConfig } from "./queue_settings.ts";

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

export const emptyStats = (name: string): QueueStats => ({
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

const finishedSet: ReadonlySet<JobState | null> = new Set(finishedStates);
const isFinished = (state: JobState | null) => finishedSet.has(state);

/** How many of a queue's jobs are in any of `states`. */
const jobsIn = (c: QueueStats, states: readonly JobState[]) =>
  states.reduce((n, state) => n + c[state], 0);

/** A count move: `n` jobs of a queue from one state (null: new) to another (null: deleted). */
type Move = [queue: string, from: JobState | null, to: JobState | null, n: number];

/**
 * Jobs per queue and state, kept up to date by every transition an apply makes and written to
 * queue_counts in the same transaction (read back at start-up and after a snapshot install):
 * queue depths for /v1/queues, /admin/status and /metrics cost O(queues), never a count. Moves
 * made during an apply are journaled, so a rollback undoes them in O(moves).
 */
export class QueueCounts {
  readonly #counts = new Map<string, QueueStats>();
  #journal: Move[] | null = null;
  /** Moves on whenever a queue is added to the counts or dropped from them. */
  namesVersion = 0;
  /** Queues a job finished in or a finished job left, since takeFinishedChanges. */
  #finishedChanged = new Set<string>();

  constructor(
    readonly db: Database,
    readonly q: Pick<ReturnType<typeof jobQueries>, "counts" | "saveCount" | "dropCount">,
  ) {
    this.load();
  }

  /** Reads the counts the table holds (a few rows, never a count). */
  load(): void {
    this.#counts.clear();
    this.namesVersion++;
    const rows = this.db.conn.executeCompiled<QueueCountsTable>(this.q.counts({})).rows;
    for (const r of rows) this.move(r.queue, null, r.state, Number(r.n));
    this.#finishedChanged.clear(); // (what the table holds is read whole: see RetentionDue)
  }

  /** Journals the moves from here on (an apply in progress); `end` stops it. */
  begin(): void {
    this.#journal = [];
  }

  /**
   * Stops the journal, and forgets the queues the apply left with no job at all: a queue's zeros
   * need no entry (`of` and `stats` answer them), and keeping them would grow with every queue
   * ever used (a queue per customer or per order), not with the jobs held.
   */
  end(): void {
    for (const [queue] of this.#journal ?? []) {
      const c = this.#counts.get(queue);
      if (c && jobsIn(c, jobStates) === 0 && this.#counts.delete(queue)) this.namesVersion++;
    }
    this.#journal = null;
  }

  /** The queues counted in memory: those holding jobs (and, mid-apply, those it touched). */
  get size(): number {
    return this.#counts.size;
  }

  /** Where the journal stands, for `save` and `rollbackTo`. */
  get position(): number {
    return this.#journal?.length ?? 0;
  }

  move(queue: string, from: JobState | null, to: JobState | null, n: number): void {
    let c = this.#counts.get(queue);
    if (!c) {
      c = emptyStats(queue);
      this.#counts.set(queue, c);
      this.namesVersion++;
    }
    if (from) c[from] -= n;
    if (to) c[to] += n;
    this.#journal?.push([queue, from, to, n]);
    if (isFinished(from) || isFinished(to)) this.#finishedChanged.add(queue);
  }

  /** The queues whose finished jobs changed since the last call (see RetentionDue). */
  takeFinishedChanges(): Set<string> {
    const changed = this.#finishedChanged;
    this.#finishedChanged = new Set();
    return changed;
  }

  /** Writes the counts that moves since `position` changed (inside the transaction), one row each. */
  save(position: number): void {
    const changed = new Map<string, Set<JobState>>();
    for (const [queue, from, to] of (this.#journal ?? []).slice(position)) {
      const states = changed.get(queue) ?? changed.set(queue, new Set()).get(queue)!;
      if (from) states.add(from);
      if (to) states.add(to);
    }
    for (const [queue, states] of changed) {
      const c = this.#counts.get(queue)!;
      for (const state of states) {
        const n = c[state];
        const q = n > 0
          ? this.q.saveCount({ queue, state, n })
          : this.q.dropCount({ queue, state });
        this.db.conn.executeCompiled(q);
      }
    }
  }

  /** Undoes the moves journaled since `position`. */
  rollbackTo(position: number): void {
    const journal = this.#journal ?? [];
    while (journal.length > position) {
      const [queue, from, to, n] = journal.pop()!;
      const c = this.#counts.get(queue)!;
      if (from) c[from] += n;
      if (to) c[to] -= n;
    }
  }

  /** The queue's jobs in `state`. */
  of(queue: string, state: JobState): number {
    return this.#counts.get(queue)?.[state] ?? 0;
  }

  /** The queue's counts (zeros for a queue nobody used). */
  stats(queue: string): QueueStats {
    const c = this.#counts.get(queue);
    return c ? { ...c } : emptyStats(queue);
  }

  /** Jobs that are not finished: ready, delayed, leased or waiting. */
  unfinished(queue: string): number {
    const c = this.#counts.get(queue);
    return c ? c.ready + c.delayed + c.leased + c.waiting : 0;
  }

  /** Every queue counted: those holding jobs (one left with none is forgotten after its apply). */
  queues(): IterableIterator<string> {
    return this.#counts.keys();
  }

  /** Queues holding jobs, in any state. */
  withJobs(): string[] {
    return [...this.#counts.values()].filter((c) => jobsIn(c, jobStates) > 0).map((c) => c.name);
  }
}
