// Linearizable reads in flight on a node: each waits for its ReadIndex round, then for the apply.

import type { RaftqError } from "../errors.ts";
import type { ReadState } from "../raft/mod.ts";

/** A read waiting for its ReadIndex round: `confirmed` gets the index to apply before serving. */
interface PendingRead {
  confirmed(index: number): void;
  reject(error: RaftqError): void;
}

/** A read waiting for this node to apply its read index. */
interface AwaitingApply {
  index: number;
  resolve(): void;
  reject(error: RaftqError): void;
}

/**
 * The reads a node holds: asked of the core in a batch (takeToStart), confirmed or dropped by a
 * Ready (settle), then served once the state machine has applied their index (release). A role
 * change fails them all (failAll): whoever asked asks the new leader.
 */
export class ReadRequests {
  readonly #pending = new Map<string, PendingRead>();
  #toStart: string[] = [];
  #awaitingApply: AwaitingApply[] = [];
  #seq = 0;

  /**
   * `prefix` makes the ids unique across the cluster's nodes (the core echoes them back);
   * `appliedIndex` is the state machine's; a read that cannot be served fails with `noLeader()`.
   */
  constructor(
    readonly prefix: string,
    readonly appliedIndex: () => number,
    readonly noLeader: () => RaftqError,
  ) {}

  /** A new read; it resolves with its read index once the core has confirmed leadership. */
  request(): Promise<number> {
    return new Promise((confirmed, reject) => {
      const id = `${this.prefix}:${++this.#seq}`;
      this.#pending.set(id, { confirmed, reject });
      this.#toStart.push(id);
    });
  }

  /** The reads not yet handed to the core, handed now. */
  takeToStart(): string[] {
    const ids = this.#toStart;
    this.#toStart = [];
    return ids;
  }

  /** A Ready's read states confirm their reads; its dropped reads fail. */
  settle(states: readonly ReadState[], dropped: readonly string[]): void {
    for (const rs of states) {
      const read = this.#pending.get(rs.id);
      if (!read) continue;
      this.#pending.delete(rs.id);
      read.confirmed(rs.index);
    }
    for (const id of dropped) {
      this.#pending.get(id)?.reject(this.noLeader());
      this.#pending.delete(id);
    }
  }

  /** Resolves once the state machine has applied `index` (seen now, or by a later release). */
  appliedUpTo(index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#awaitingApply.push({ index, resolve, reject });
      this.release();
    });
  }

  /** Serves the reads whose read index is applied now (after each apply). */
  release(): void {
    if (this.#awaitingApply.length === 0) return;
    const appliedIndex = this.appliedIndex();
    const still = [];
    for (const r of this.#awaitingApply) {
      if (r.index <= appliedIndex) r.resolve();
      else still.push(r);
    }
    this.#awaitingApply = still;
  }

  /** Fails every read held, at either stage (a role change: whoever asked asks the new leader). */
  failAll(): void {
    for (const r of this.#pending.values()) r.reject(this.noLeader());
    this.#pending.clear();
    this.#toStart = [];
    for (const r of this.#awaitingApply) r.reject(this.noLeader());
    this.#awaitingApply = [];
  }
}
