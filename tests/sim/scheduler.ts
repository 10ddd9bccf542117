// The simulator's scheduler: every node's deferred work and flush completions, in simulated time.

interface Task {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Tasks run in order of their time, then of when they were scheduled: a seed replays exactly.
 * `soon` (the loop's next turn) is a task at the current time; a flush completing `ms` later is a
 * task then. Nothing here reads a real clock.
 */
export class SimScheduler {
  #tasks: Task[] = [];
  #seq = 0;
  now = 0;

  soon(fn: () => void): void {
    this.at(this.now, fn);
  }

  after(ms: number, fn: () => void): void {
    this.at(this.now + ms, fn);
  }

  at(time: number, fn: () => void): void {
    const task = { at: time, seq: this.#seq++, fn };
    // Sorted by (at, seq); new tasks are mostly latest, so search from the end.
    let i = this.#tasks.length;
    while (i > 0 && this.#tasks[i - 1].at > time) i--;
    this.#tasks.splice(i, 0, task);
  }

  /** Runs every task due by `now`, including those they schedule for `now`. */
  runDue(limit = 200_000): void {
    for (let n = 0; this.#tasks.length > 0 && this.#tasks[0].at <= this.now; n++) {
      if (n > limit) throw new Error(`more than ${limit} tasks in one millisecond: a livelock`);
      this.#tasks.shift()!.fn();
    }
  }
}
