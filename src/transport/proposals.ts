// Proposals forwarded over peer links: a follower's, waiting by id for the leader's answer.

import type { ProposalError } from "./frames.ts";

/** A forwarded proposal that failed: the leader's refusal, or the link's loss (outcome unknown). */
export class ProposalFailed extends Error {
  constructor(readonly error: ProposalError) {
    super(error.message);
    this.name = "ProposalFailed";
  }
}

interface Waiting {
  peer: string;
  resolve(result: Record<string, unknown>): void;
  reject(error: ProposalFailed): void;
  /** performance.now() past which the outcome is unknown. */
  deadlineMs: number;
  timeoutMs: number;
}

const unknown = (message: string) => new ProposalFailed({ code: "outcome_unknown", message });

/**
 * Each proposal waits for the answer frame with its id from the peer it was sent to, on any link
 * to that peer (the peer answers on the link it prefers for sending). A timeout, or the close of
 * any link to that peer (the one it went out on, or the one its answer would come on), ends it as
 * outcome_unknown: the leader may have committed it.
 */
export class PendingProposals {
  #nextId = 1;
  readonly #waiting = new Map<number, Waiting>();
  /**
   * One timer for all of them, set for the earliest deadline: a follower forwards thousands of
   * writes a second, and a timer each (set, then cleared by the answer) was 1.3% of its time.
   */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAtMs = Infinity;

  /** Registers a proposal sent to `peer`; its id goes in the frame. */
  start(peer: string, timeoutMs: number): { id: number; answer: Promise<Record<string, unknown>> } {
    const id = this.#nextId++;
    const deadlineMs = performance.now() + timeoutMs;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#waiting.set(id, { peer, resolve, reject, deadlineMs, timeoutMs });
    });
    this.#arm(deadlineMs);
    return { id, answer };
  }

  /** Makes the timer fire by `deadlineMs`. */
  #arm(deadlineMs: number): void {
    if (this.#timer !== undefined && this.#timerAtMs <= deadlineMs) return;
    clearTimeout(this.#timer);
    this.#timerAtMs = deadlineMs;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, deadlineMs - performance.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAtMs = Infinity;
  }

  /** Ends the proposals past their deadline as outcome_unknown; the timer waits for the next. */
  #expire(): void {
    this.#disarm();
    const now = performance.now();
    let nextMs = Infinity;
    for (const [id, w] of this.#waiting) {
      if (w.deadlineMs > now) {
        nextMs = Math.min(nextMs, w.deadlineMs);
        continue;
      }
      this.#waiting.delete(id);
      w.reject(unknown(`the leader did not answer within ${w.timeoutMs} ms`));
    }
    if (nextMs !== Infinity) this.#arm(nextMs);
  }

  /** The answer to proposal `id`, if it came from the peer the proposal went to. */
  answer(
    peer: string,
    id: number,
    outcome: { result: Record<string, unknown> } | { error: ProposalError },
  ) {
    const w = this.#waiting.get(id);
    if (!w || w.peer !== peer) return false;
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#disarm();
    if ("result" in outcome) w.resolve(outcome.result);
    else w.reject(new ProposalFailed(outcome.error));
    return true;
  }

  /** A link to `peer` closed: the outcomes of the proposals sent to it are unknown. */
  linkClosed(peer: string): void {
    for (const [id, w] of this.#waiting) {
      if (w.peer !== peer) continue;
      this.#waiting.delete(id);
      w.reject(unknown("the link to the leader closed before it answered"));
    }
    if (this.#waiting.size === 0) this.#disarm();
  }

  get size(): number {
    return this.#waiting.size;
  }
}
