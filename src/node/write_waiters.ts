// Writes proposed on this node, waiting by log index for their entry's apply.

import type { RaftqError } from "../errors.ts";
import type { ApplyResult } from "../queue/results.ts";
import type { Entry } from "../raft/mod.ts";

interface Waiter {
  /** The term the entry was proposed in: an entry of another term at its index is not it. */
  term: number;
  resolve(result: ApplyResult): void;
  reject(error: RaftqError): void;
  /** When the request is answered outcome_unknown if its entry has not applied by then. */
  deadlineMs: number;
}

/**
 * Each proposed write waits under its entry's index: answered with the apply's result when the
 * entry of its term applies, or with `unknown()` when another term's entry took its index, its
 * deadline passed, or the node lost the lead (it may still commit without us).
 */
export class WriteWaiters {
  /** Added in index order, so in deadline order too (one timeout for every write). */
  readonly #byIndex = new Map<number, Waiter>();

  constructor(readonly unknown: () => RaftqError) {}

  has(index: number): boolean {
    return this.#byIndex.has(index);
  }

  add(index: number, waiter: Waiter): void {
    this.#byIndex.set(index, waiter);
  }

  /** Answers the writers of applied entries. */
  answer(entries: readonly Entry[], results: Map<number, ApplyResult>): void {
    for (const e of entries) {
      const w = this.#byIndex.get(e.index);
      if (!w) continue;
      this.#byIndex.delete(e.index);
      if (e.term !== w.term) w.reject(this.unknown());
      else w.resolve(results.get(e.index) ?? { type: "none" });
    }
  }

  /** Writes not applied by `nowMs` (wall clock) are answered unknown. */
  expire(nowMs: number): void {
    for (const [index, w] of this.#byIndex) {
      if (w.deadlineMs > nowMs) break;
      this.#byIndex.delete(index);
      w.reject(this.unknown());
    }
  }

  /** Every write waiting is answered unknown. */
  failAll(): void {
    for (const w of this.#byIndex.values()) w.reject(this.unknown());
    this.#byIndex.clear();
  }
}
