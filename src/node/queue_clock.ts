// The leader's stamps: wall-clock time that never goes back and never stands still.

/**
 * Time in the queue is the leader's stamp on each entry. A stamp is the leader's wall clock —
 * unless that is behind the queue's clock (a new leader whose clock is slower than its
 * predecessor's, or a clock set back), when the last stamp advances at the rate of this node's
 * monotonic clock instead. So leases, delays and backoff keep their lengths across leader changes
 * and clock steps; the queue's clock can only run ahead of a slow wall clock, by a constant.
 */
export class QueueClock {
  /** The last stamp, unrounded, and the monotonic time it was taken at. */
  #base = { stampMs: 0, monoMs: 0 };

  constructor(
    readonly wallMs: () => number = () => Date.now(),
    readonly monoMs: () => number = () => performance.now(),
  ) {}

  /** Starts from the queue's clock as this node knows it (on becoming leader). */
  restart(queueNowMs: number): void {
    this.#base = { stampMs: queueNowMs, monoMs: this.monoMs() };
  }

  /** The stamp for entries proposed now; never below `floorMs` (the queue's applied clock). */
  next(floorMs: number): number {
    const mono = this.monoMs();
    const stamp = this.#at(mono, floorMs);
    this.#base = { stampMs: stamp, monoMs: mono };
    return Math.floor(stamp);
  }

  /** What next() would give now, without taking it. */
  peek(floorMs: number): number {
    return Math.floor(this.#at(this.monoMs(), floorMs));
  }

  #at(mono: number, floorMs: number): number {
    return Math.max(this.wallMs(), this.#base.stampMs + (mono - this.#base.monoMs), floorMs);
  }
}
