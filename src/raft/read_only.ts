// Linearizable reads (ReadIndex, dissertation §6.4): the rounds a leader holds until a majority
// confirms it still leads, and the answers and refusals a Ready hands out.

import type { ReadState } from "./types.ts";

/** A ReadIndex round waiting for a majority's heartbeat acknowledgements. */
interface PendingRead {
  ids: string[];
  index: number;
  seq: number;
}

/**
 * The leader's side of ReadIndex. Each round is numbered; a heartbeat carries the newest number
 * and a follower's answer echoes it, so one acknowledgement confirms every round up to it.
 */
export class ReadRounds {
  /** The newest round's number, carried by every heartbeat. */
  seq = 0;
  #pending: PendingRead[] = [];
  /** Reads that came before this leader committed an entry of its term (§6.4 step 1). */
  #awaitingCommit: string[] = [];
  #answered: ReadState[] = [];
  #dropped: string[] = [];

  /** Whether a Ready has answers or refusals to hand out. */
  get hasOutput(): boolean {
    return this.#answered.length > 0 || this.#dropped.length > 0;
  }

  /** The answers and refusals since the last call, for a Ready. */
  takeOutput(): { readStates: ReadState[]; droppedReads: string[] } {
    const out = { readStates: this.#answered, droppedReads: this.#dropped };
    this.#answered = [];
    this.#dropped = [];
    return out;
  }

  /** Refuses `ids` (this node cannot serve them: the caller retries elsewhere). */
  drop(ids: readonly string[]): void {
    this.#dropped.push(...ids);
  }

  /** Holds `ids` until the leader commits in its term (then: takeAwaitingCommit). */
  awaitCommit(ids: readonly string[]): void {
    this.#awaitingCommit.push(...ids);
  }

  /** The reads held for the first commit of the term, handed back to be started. */
  takeAwaitingCommit(): string[] {
    const ids = this.#awaitingCommit;
    this.#awaitingCommit = [];
    return ids;
  }

  /** Answers `ids` at `index` at once (a leader that is the only voter needs no round). */
  answer(ids: readonly string[], index: number): void {
    for (const id of ids) this.#answered.push({ id, index });
  }

  /** Opens a round for `ids` at commit index `index`; send a heartbeat carrying `seq` next. */
  open(ids: readonly string[], index: number): void {
    this.seq++;
    this.#pending.push({ ids: [...ids], index, seq: this.seq });
  }

  /** Answers the rounds, oldest first, that `confirmed` says a majority has acknowledged. */
  release(confirmed: (seq: number) => boolean): void {
    while (this.#pending.length > 0 && confirmed(this.#pending[0].seq)) {
      const read = this.#pending.shift()!;
      this.answer(read.ids, read.index);
    }
  }

  /** Refuses every read held (leadership lost or in doubt). */
  dropAll(): void {
    for (const read of this.#pending) this.#dropped.push(...read.ids);
    this.#dropped.push(...this.#awaitingCommit);
    this.#pending = [];
    this.#awaitingCommit = [];
  }
}
