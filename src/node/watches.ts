// Conditions a node waits on (a learner catching up, a new leader), checked as its state moves.

interface Watch {
  check(): boolean;
  deadlineMs: number;
  resolve(met: boolean): void;
}

/**
 * Each watch resolves true once its condition holds, false at its deadline. The node checks them
 * on every tick and after every Ready that changed its role, so nothing polls on a timer of its
 * own; stop() resolves the rest false.
 */
export class Watches {
  #watches: Watch[] = [];

  constructor(readonly nowMs: () => number) {}

  until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#watches.push({ check, deadlineMs: this.nowMs() + timeoutMs, resolve });
    });
  }

  poll(): void {
    if (this.#watches.length === 0) return;
    const now = this.nowMs();
    this.#watches = this.#watches.filter((w) => {
      if (w.check()) w.resolve(true);
      else if (now >= w.deadlineMs) w.resolve(false);
      else return true;
      return false;
    });
  }

  stop(): void {
    for (const w of this.#watches) w.resolve(false);
    this.#watches = [];
  }
}
