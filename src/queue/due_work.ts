// Work that falls due by the queue's clock: delayed jobs, expired leases and ttls, retention.

import type { CompiledQuery } from "kysely";
import type { JobState } from "../storage/schema.ts";
import type { JobPayloads } from "./job_payloads.ts";
import { tallyGroups } from "./job_rows.ts";
import type { ApplyResult } from "./results.ts";
import { RetentionDue } from "./retention_due.ts";
import type { Transitions } from "./transitions.ts";

/**
 * Rows of each kind of due work one entry takes at most. 1,000 held an apply 30–55 ms (1,000 ttl
 * expiries: 55 ms on one state machine) with ticks back to back, and a writer's answers waited
 * behind them (93–185 ms while 200,000 jobs expired); 250 keeps it near 50 ms at most.
 */
const purgeBatchRows = 250;

/** Due work, done inside QueueStateMachine's transaction as the clock moves and at each tick. */
export class DueWork {
  /** When each queue's finished jobs fall past its retention. */
  readonly retention: RetentionDue;
  /** Some batch of the tick in progress took its whole purgeBatchRows. */
  #budgetSpent = false;

  constructor(readonly t: Transitions, readonly payloads: JobPayloads) {
    this.retention = new RetentionDue(
      t.counts,
      (queue) => this.#min(t.q.minFinished({ queue })),
      () => t.all(t.q.minFinishedEach({})),
    );
  }

  /** A queue's retention: its config's, else the node's (which the tick carries). */
  #retentionOf(nodeRetentionMs: number): (queue: string) => number {
    return (queue) => this.t.settings.get(queue).config.retentionMs ?? nodeRetentionMs;
  }

  /**
   * A tick: what is due, finished jobs past their retention, idempotency keys past theirs. `more`:
   * some kind of work took all its purgeBatchRows, so more of it may be due already.
   */
  tick(nodeRetentionMs: number): ApplyResult {
    this.#budgetSpent = false;
    const expired = this.processDue();
    if (this.t.groups.recapPending) this.#continueRecap();
    const purged = this.#purgeFinished(nodeRetentionMs);
    this.#spent(this.t.run(this.t.q.purgeIdem({ before: this.t.now, limit: purgeBatchRows })));
    return { type: "ticked", expired, purged, more: this.#budgetSpent };
  }

  /** Notes a batch of due work of `rows` rows: whether it took the whole budget (see tick). */
  #spent(rows: number): void {
    if (rows >= purgeBatchRows) this.#budgetSpent = true;
  }

  /**
   * Promotes due delayed jobs and expires due leases and ttls, as of the queue's clock: at most
   * purgeBatchRows of each an entry, the earliest first, so a million jobs due at one instant
   * never stall the apply loop (nextDueMs stays in the past, and the leader ticks again).
   */
  processDue(): number {
    const t = this.t;
    const now = t.now;
    const limit = purgeBatchRows;
    const due = t.all<{ id: string; queue: string; grp: string; attempts: number }>(
      t.q.dueDelayed({ now, limit }),
    );
    for (const job of due) {
      t.run(t.q.promote({ id: job.id, now }));
      t.events.record(job.queue, "promoted", job, "ready");
    }
    for (const [[queue, grp], n] of tallyGroups(due)) t.moved(queue, "delayed", "ready", n, grp);
    this.#spent(due.length);
    this.#expireUnclaimed();
    const expired = t.all<
      { id: string; queue: string; grp: string; attempts: number; max_attempts: number }
    >(t.q.expired({ now, limit }));
    t.tallies.leasesExpired += expired.length;
    this.#spent(expired.length);
    for (const j of expired) {
      if (j.attempts >= j.max_attempts) {
        t.finish({ ...j, state: "leased" }, "dead", null, "lease expired");
      } else t.requeue(j, "ready", now, "lease expired");
    }
    t.due.set(this.earliestDue());
    return expired.length;
  }

  /**
   * Whether bounded work begun by an earlier entry goes on in the next tick: ends whose waiting
   * jobs are still to be told, groups still to be set after a change of groupConcurrency.
   */
  get workPending(): boolean {
    return this.t.deps.pending || this.t.groups.recapPending;
  }

  /** Sets the next groups of a recap; their queue's long polls look again. */
  #continueRecap(): void {
    const t = this.t;
    t.groups.continueRecap((queue) => {
      t.woken.add(queue);
      return t.settings.get(queue).config.groupConcurrency;
    });
  }

  /** When the next delayed job, lease or ttl falls due, from their indexes; null: none will. */
  earliestDue(): number | null {
    const q = this.t.q;
    let earliest: number | null = null;
    for (const t of [q.minDelayed({}), q.minLeaseExpiry({}), q.minExpiry({})].map(this.#min)) {
      if (t !== null && (earliest === null || t < earliest)) earliest = t;
    }
    return earliest;
  }

  /**
   * The earliest wall-clock time at which a tick command would change something: a delayed job
   * due, a lease expiring, a finished job or an idempotency key past retention, or now while a
   * job's end has waiting jobs still to be told. Null when idle.
   */
  nextDueMs(retentionMs: number): number | null {
    const t = this.t;
    if (this.workPending) return t.now;
    const due = [
      this.earliestDue(),
      this.retention.nextMs(this.#retentionOf(retentionMs)),
      this.#min(t.q.minIdempotency({})),
    ].filter((ms): ms is number => ms !== null);
    return due.length === 0 ? null : Math.min(...due);
  }

  readonly #min = (q: CompiledQuery): number | null =>
    this.t.all<{ t: number | null }>(q)[0]?.t ?? null;

  /**
   * Removes finished jobs past their queue's retention (its config's, else the node's), at most
   * purgeBatchRows in all, queue by queue in name order (the same on every replica).
   */
  #purgeFinished(nodeRetentionMs: number): number {
    const t = this.t;
    let budget = purgeBatchRows;
    const retentionOf = this.#retentionOf(nodeRetentionMs);
    for (const queue of this.retention.dueQueues(t.now, retentionOf)) {
      if (budget === 0) break;
      const before = t.now - retentionOf(queue);
      const gone = t.all<{ queue: string; state: JobState; seq: number; apart: number }>(
        t.q.purgeJobs({ queue, before, limit: budget }),
      );
      this.payloads.forget(gone);
      for (const j of gone) t.moved(j.queue, j.state, null);
      budget -= gone.length;
    }
    this.#spent(purgeBatchRows - budget);
    return purgeBatchRows - budget;
  }

  /** Jobs nobody claimed within their ttlMs become expired (at most purgeBatchRows an entry). */
  #expireUnclaimed(): void {
    const t = this.t;
    const due = t.all<
      { id: string; queue: string; state: JobState; grp: string; attempts: number }
    >(
      t.q.dueExpiry({ now: t.now, limit: purgeBatchRows }),
    );
    for (const j of due) t.finish(j, "expired", null, "not claimed within its ttlMs");
    this.#spent(due.length);
  }
}
