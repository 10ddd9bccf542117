// How late the node's tick timer fires: how long its event loop was held when a tick was due.

/** The longest delay is kept per window of this length; six of them are "the last minute". */
const windowMs = 10_000;
const windowsKept = 6;
/** A delay worth a log line is logged at most this often (the first of a run of them). */
const reportEveryMs = 10_000;

/**
 * Fed by the tick timer (every --heartbeat-ms), with a monotonic clock. A tick that fires late
 * was due while the loop ran something else: a long apply, a synchronous SQLite statement, a
 * garbage collection. A hold of one interval or longer always makes some tick late by about its
 * length; shorter ones only when a tick falls due inside them. (node:perf_hooks'
 * monitorEventLoopDelay reads nothing useful under Deno 2.9: a max of 0.03 ms across a 200 ms
 * busy loop.)
 */
export class LoopDelay {
  #lastTickMs: number | null = null;
  #windows: { startMs: number; maxMs: number }[] = [];
  #lastReportMs = -Infinity;

  constructor(readonly intervalMs: number) {}

  /**
   * The timer starts now: its first tick is late against this (a hold before the first tick, a
   * node stopped right after it started, would otherwise go unseen).
   */
  start(nowMs: number): void {
    this.#lastTickMs = nowMs;
  }

  /** At a tick: how much later than one interval after the previous tick (or the start) it fired. */
  tick(nowMs: number): number {
    const last = this.#lastTickMs;
    this.#lastTickMs = nowMs;
    const delayMs = last === null ? 0 : Math.max(0, nowMs - last - this.intervalMs);
    const startMs = nowMs - (nowMs % windowMs);
    let w = this.#windows.at(-1);
    if (w === undefined || w.startMs !== startMs) {
      w = { startMs, maxMs: 0 };
      this.#windows.push(w);
      if (this.#windows.length > windowsKept) this.#windows.shift();
    }
    w.maxMs = Math.max(w.maxMs, delayMs);
    return delayMs;
  }

  /** The longest delay of the ticks in the last minute (whole windows: 50 to 60 s). */
  maxRecentMs(nowMs: number): number {
    const since = nowMs - windowsKept * windowMs;
    let max = 0;
    for (const w of this.#windows) if (w.startMs > since) max = Math.max(max, w.maxMs);
    return max;
  }

  /** Whether a delay seen now gets a log line: one per reportEveryMs at most. */
  shouldReport(nowMs: number): boolean {
    if (nowMs - this.#lastReportMs < reportEveryMs) return false;
    this.#lastReportMs = nowMs;
    return true;
  }
}
