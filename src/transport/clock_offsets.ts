// Estimates of each peer's wall-clock offset from ours, from the clock readings in pings.

import type { NodeId } from "../raft/mod.ts";

/** What this node believes of a peer's clock: `offsetMs` = theirs minus ours, give or take. */
export interface ClockEstimate {
  offsetMs: number;
  /** Half the round trip of the sample used: the true offset is within ±this of `offsetMs`. */
  uncertaintyMs: number;
  /** When the sample was taken (our monotonic clock). */
  takenAtMs: number;
}

export const offsetTuning = {
  /** Samples kept per peer; the one with the shortest round trip is the estimate. */
  samples: 8,
  /** Samples older than this are forgotten: a clock that jumps is noticed within it. */
  maxAgeMs: 15_000,
} as const;

/**
 * NTP's estimate per ping: we sent at `t0` (our clock), the peer answered at `t1` (its clock), we
 * heard it at `t2` (ours); the offset is t1 - (t0 + t2) / 2, within ±(t2 - t0) / 2. Of the last
 * few samples, the one with the shortest round trip is trusted (queueing only adds delay).
 */
export class ClockOffsets {
  readonly #samples = new Map<NodeId, ClockEstimate[]>();

  record(peer: NodeId, sentMs: number, peerMs: number, receivedMs: number, nowMono: number): void {
    const rtt = receivedMs - sentMs;
    if (!(rtt >= 0) || rtt > 60_000) return; // our wall clock moved under the ping: no sample
    const list = this.#samples.get(peer) ?? [];
    list.push({
      offsetMs: peerMs - (sentMs + receivedMs) / 2,
      uncertaintyMs: rtt / 2,
      takenAtMs: nowMono,
    });
    if (list.length > offsetTuning.samples) list.shift();
    this.#samples.set(peer, list);
  }

  /** The best recent estimate for `peer`, or null when none is recent enough. */
  estimate(peer: NodeId, nowMono: number): ClockEstimate | null {
    let best: ClockEstimate | null = null;
    for (const s of this.#samples.get(peer) ?? []) {
      if (nowMono - s.takenAtMs > offsetTuning.maxAgeMs) continue;
      if (!best || s.uncertaintyMs < best.uncertaintyMs) best = s;
    }
    return best;
  }

  forget(peer: NodeId): void {
    this.#samples.delete(peer);
  }
}
