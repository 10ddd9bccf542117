// A queue's rateLimit: jobs claimed per fixed window of the leader-stamped clock, one row a queue.

import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";

export interface RateLimit {
  max: number;
  perMs: number;
}

/** The start of the window `nowMs` falls in: windows are aligned to multiples of perMs. */
export const windowStartMs = (nowMs: number, perMs: number) => nowMs - (nowMs % perMs);

/**
 * Windows are fixed (aligned to the epoch) and counted by the entry's stamped time, so every
 * replica counts the same claims in the same window, and a new leader neither resets a window
 * (the count is replicated) nor doubles one (its clock never goes behind the applied stamps).
 */
export class RateWindows {
  readonly #db: Database;
  readonly #q;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#q = {
      get: prepare(
        ["queue"],
        (p) => k.selectFrom("queue_rate").selectAll().where("queue", "=", p.queue),
      ),
      save: prepare(
        ["queue", "windowMs", "claimed"],
        (p) =>
          k.insertInto("queue_rate").values({
            queue: p.queue,
            window_ms: p.windowMs,
            claimed: p.claimed,
          }).onConflict((oc) =>
            oc.column("queue").doUpdateSet({ window_ms: p.windowMs, claimed: p.claimed })
          ),
      ),
    };
  }

  /** Jobs claimed in the queue's window that holds `nowMs`. */
  used(queue: string, limit: RateLimit, nowMs: number): number {
    const row = this.#db.conn.executeCompiled<{ window_ms: number; claimed: number }>(
      this.#q.get({ queue }),
    ).rows[0];
    return row && row.window_ms === windowStartMs(nowMs, limit.perMs) ? row.claimed : 0;
  }

  /** Counts `n` more claims in the window that holds `nowMs`. */
  add(queue: string, limit: RateLimit, nowMs: number, n: number): void {
    const used = this.used(queue, limit, nowMs);
    const windowMs = windowStartMs(nowMs, limit.perMs);
    this.#db.conn.executeCompiled(this.#q.save({ queue, windowMs, claimed: used + n }));
  }

  /** The statements, for the query-plan test. */
  get queries() {
    return this.#q;
  }
}
