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

  wake(queue: string): void {
    const set = this.#waiting.get(queue);
    if (!set) return;
    for (const done of [...set]) done();
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
