// One write at a time followed through the leader's loop: each stage timed from its proposal.

import type { Entry } from "../raft/mod.ts";

/**
 * The stages of a proposed entry, timed from its proposal: in this order, but that a leader may
 * apply what its followers made durable before its own flush ends.
 */
export const writeStages = ["sent", "written", "flushed", "committed", "applied"] as const;
export type WriteStage = typeof writeStages[number];

/** A trace still open this long after its proposal (its entry lost with a leadership) is dropped. */
export const abandonAfterMs = 10_000;

/**
 * Samples one proposed entry at a time, the next proposal once the last has been both flushed
 * here and applied, so following it costs a comparison a Ready: when its append left for the
 * followers, when its write transaction committed, when its flush ended, when it was committed
 * (a majority durable: its apply begins) and when its apply ended.
 */
export class WriteTrace {
  /** The entry followed (0: none). */
  #index = 0;
  #proposedMs = 0;
  #seen = new Set<WriteStage>();

  constructor(
    readonly monoMs: () => number,
    readonly observe: (stage: WriteStage, seconds: number) => void,
  ) {}

  /** Entries from `firstIndex` were proposed here: the first is followed unless one still is. */
  proposed(firstIndex: number): void {
    const now = this.monoMs();
    if (this.#index !== 0 && now - this.#proposedMs < abandonAfterMs) return;
    this.#index = firstIndex;
    this.#proposedMs = now;
    this.#seen.clear();
  }

  /** `entries` (consecutive, as a Ready's) reached `stage`. */
  reached(stage: WriteStage, entries: readonly Entry[]): void {
    if (this.#index === 0 || entries.length === 0) return;
    if (this.#index < entries[0].index || this.#index > entries[entries.length - 1].index) return;
    if (this.#seen.has(stage)) return;
    this.#seen.add(stage);
    this.observe(stage, (this.monoMs() - this.#proposedMs) / 1000);
    if (this.#seen.has("flushed") && this.#seen.has("applied")) this.#index = 0;
  }
}
