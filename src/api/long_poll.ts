// Long-poll waiters by key: a queue (woken when a job may be ready there) or a job (when it ends).

export class Waiters {
  #waiting = new Map<string, Set<() => void>>();

  /** Resolves when `queue` (any key) is woken, after `ms`, or when `signal` aborts. */
  wait(queue: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiting.get(queue);
      if (!set) {
        set = new Set();
        this.#waiting.set(queue, set);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        set!.delete(done);
        if (set!.size === 0) this.#waiting.delete(queue);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done);
      set.add(done);
    });
  }

  has(key: string): boolean {
    return this.#waiting.has(key);
  }

  /**
   * Wakes the `limit` longest waiting on `key` (all of them by default). A queue's claims wake as
   * many as it has ready jobs: with 200 long polls waiting, one enqueue woke them all, and each
   * proposed a claim (200 claim commands in the log for one job).
   */
  wake(key: string, limit = Infinity): void {
    const set = this.#waiting.get(key);
    if (!set || limit <= 0) return;
    let left = limit;
    for (const done of set) { // (each removes itself: a Set's iteration goes on past it)
      done();
      if (--left <= 0) return;
    }
  }

  get size(): number {
    let n = 0;
    for (const s of this.#waiting.values()) n += s.size;
    return n;
  }

  /** Waiting requests: claims (keyed by queue) and event streams (keyed by eventsKey). */
  counts(): { claims: number; events: number } {
    const n = { claims: 0, events: 0 };
    for (const [key, s] of this.#waiting) {
      if (key.startsWith(eventsPrefix)) n.events += s.size;
      else n.claims += s.size;
    }
    return n;
  }
}

/** The key the event streams of `queue` wait on (queue names never hold a colon). */
export const eventsKey = (queue: string) => `${eventsPrefix}${queue}`;
const eventsPrefix = "events:";
