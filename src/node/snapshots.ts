// Making snapshot images for the Ready loop: one capture at a time, adopted between Readies.

import type { Raft } from "../raft/mod.ts";
import type { AppliedState, LogStore } from "./ports.ts";

type Requester = (error: Error | null, index: number) => void;

/**
 * A capture copies the state machine as applied at some moment after it starts (on a worker in
 * production), so its index is only known when it ends. It is adopted as the image followers
 * behind the log are sent (Raft.imageAt) between Readies, once the log here holds that index
 * persisted and applied; compaction waits meanwhile so the log never passes it. Adopting it
 * compacts nothing: a follower a little behind, down while it was made, still catches up from
 * the log. Requests (POST /admin/snapshot) that arrive during a capture are answered by the next
 * one, so each sees everything applied before it asked.
 */
export class Snapshotter {
  #wanted = false;
  #waiting: Requester[] = [];
  /** null: no capture; "running"; or the index the finished capture holds. */
  #capture: null | "running" | { index: number; requesters: Requester[] } = null;
  #running: Requester[] = [];

  constructor(
    readonly raft: Raft,
    readonly store: LogStore,
    readonly sm: AppliedState<unknown>,
    /** Asks the loop for a turn (the capture finished). */
    readonly wake: () => void,
    readonly taken: (index: number) => void,
  ) {}

  /** Whether a capture is under way: compaction must not pass it. */
  get busy(): boolean {
    return this.#capture !== null;
  }

  /**
   * A follower needs a snapshot and there is no image. While a capture runs it is the answer:
   * wanting another after it would make a second image under load (the applied index moves on
   * meanwhile), and adopting that would start every transfer under way over.
   */
  want(): void {
    if (this.#capture === null) this.#wanted = true;
  }

  request(done: Requester): void {
    this.#waiting.push(done);
  }

  /** Fails every request (the loop stopped). */
  abandon(error: Error): void {
    for (const done of [...this.#waiting, ...this.#running]) done(error, 0);
    this.#waiting = [];
    this.#running = [];
  }

  /** Between Readies: adopts a finished capture, or starts one when wanted. */
  step(behindStateMachine: boolean): void {
    this.#adopt();
    if (this.#capture !== null || (!this.#wanted && this.#waiting.length === 0)) return;
    if (behindStateMachine) return; // after the next write, or once the log catches up
    const current = this.raft.sendableSnapshot;
    if (this.sm.appliedIndex <= current.index && this.store.hasImage(current.index)) {
      this.#wanted = false;
      for (const done of this.#waiting.splice(0)) done(null, current.index);
      return;
    }
    this.#wanted = false;
    this.#running = this.#waiting.splice(0);
    this.#capture = "running";
    this.store.capture((error, index) => {
      if (error) {
        this.#capture = null;
        for (const done of this.#running.splice(0)) done(error, 0);
        return;
      }
      this.#capture = { index, requesters: this.#running.splice(0) };
      this.wake();
    });
  }

  #adopt(): void {
    const c = this.#capture;
    if (c === null || c === "running") return;
    const log = this.raft.log;
    if (c.index < log.snapshot.index) {
      // The log moved past it (an install): make another.
      this.store.discardCapture();
      this.#capture = null;
      this.#wanted = true;
      this.#waiting.unshift(...c.requesters);
      return;
    }
    // A leader may apply entries before its own flush of them: wait until they are persisted.
    if (c.index > Math.min(this.raft.stableIndex, this.raft.applied)) return;
    const meta = this.raft.imageAt(c.index);
    this.store.saveSnapshot(meta);
    this.#capture = null;
    this.taken(meta.index);
    for (const done of c.requesters) done(null, meta.index);
  }
}
