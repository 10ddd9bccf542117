// A lower bound on when the next delayed job, lease or ttl falls due, so an entry skips the due
// queries while nothing can be due.

/**
 * Every write that gives a job a due moment (a delayed job's `available_at`, a lease's expiry, a
 * ready or delayed job's `expire_at`) lowers the floor to it; after the due work the floor is read
 * again from the indexes. Only a floor at or below the true earliest moment is ever kept, so
 * skipping the due work while `now` is below it changes nothing: every replica, restarted or
 * not, does the same work at the same entries (a restart or a rollback starts at -Infinity).
 */
export class DueFloor {
  #floorMs = -Infinity;

  get ms(): number {
    return this.#floorMs;
  }

  /** A job may fall due at `atMs` (null: it never will). */
  lower(atMs: number | null): void {
    if (atMs !== null && atMs < this.#floorMs) this.#floorMs = atMs;
  }

  /** Something changed that this floor did not see: the next entry looks. */
  forget(): void {
    this.#floorMs = -Infinity;
  }

  /** The earliest due moment, read from the indexes (null: nothing will fall due). */
  set(atMs: number | null): void {
    this.#floorMs = atMs ?? Infinity;
  }

  /** Whether anything may be due at `nowMs`. */
  mayBeDue(nowMs: number): boolean {
    return nowMs >= this.#floorMs;
  }
}
