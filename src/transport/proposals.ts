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
  timer: ReturnType<typeof setTimeout>;
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

  /** Registers a proposal sent to `peer`; its id goes in the frame. */
  start(peer: string, timeoutMs: number): { id: number; answer: Promise<Record<string, unknown>> } {
    const id = this.#nextId++;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(unknown(`the leader did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { peer, resolve, reject, timer });
    });
    return { id, answer };
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
    clearTimeout(w.timer);
    if ("result" in outcome) w.resolve(outcome.result);
    else w.reject(new ProposalFailed(outcome.error));
    return true;
  }

  /** A link to `peer` closed: the outcomes of the proposals sent to it are unknown. */
  linkClosed(peer: string): void {
    for (const [id, w] of this.#waiting) {
      if (w.peer !== peer) continue;
      this.#waiting.delete(id);
      clearTimeout(w.timer);
      w.reject(unknown("the link to the leader closed before it answered"));
    }
  }

  get size(): number {
    return this.#waiting.size;
  }
}
