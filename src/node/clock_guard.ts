// Whether this node's clock agrees with a majority of voters' closely enough for it to lead.

import type { NodeId } from "../raft/mod.ts";
import type { ClockEstimate } from "../transport/clock_offsets.ts";

export interface ClockVerdict {
  /** True when this node, counting itself, agrees with a majority of voters within the bound. */
  mayLead: boolean;
  /** Voters whose clock is known to be within the bound of ours (self included). */
  agreeing: NodeId[];
  /** Voters whose clock is known to be beyond it, with the offset seen (theirs minus ours). */
  beyond: { id: NodeId; offsetMs: number }[];
}

/**
 * A peer agrees when its offset is within `maxOffsetMs` allowing for the estimate's uncertainty;
 * one with no recent estimate counts for neither side. A node that cannot count a majority
 * (itself included) as agreeing must not lead: its clock, or theirs, is off, and leases stamped
 * by the wrong one would end early or late (CockroachDB's rule, in spirit).
 */
export function clockVerdict(
  selfId: NodeId,
  voters: readonly NodeId[],
  estimate: (id: NodeId) => ClockEstimate | null,
  maxOffsetMs: number,
): ClockVerdict {
  const agreeing: NodeId[] = [];
  const beyond: { id: NodeId; offsetMs: number }[] = [];
  for (const id of voters) {
    if (id === selfId) {
      agreeing.push(id);
      continue;
    }
    const e = estimate(id);
    if (!e) continue;
    if (Math.abs(e.offsetMs) - e.uncertaintyMs > maxOffsetMs) {
      beyond.push({ id, offsetMs: Math.round(e.offsetMs) });
    } else if (Math.abs(e.offsetMs) <= maxOffsetMs) agreeing.push(id);
  }
  const majority = Math.floor(voters.length / 2) + 1;
  return { mayLead: !voters.includes(selfId) || agreeing.length >= majority, agreeing, beyond };
}

/** What the guard needs of the node around it. */
export interface ClockPorts {
  selfId: NodeId;
  voters(): NodeId[];
  estimate(id: NodeId): ClockEstimate | null;
  maxOffsetMs: number;
  /** Tells the Raft core whether this node may campaign and lead. */
  setMayLead(mayLead: boolean): void;
  isLeader(): boolean;
  /** Hands leadership to another voter (throws when there is none). */
  handOver(): void;
  /** The verdict's kind changed: may lead, may not for want of readings, may not for a far clock. */
  onVerdict?(verdict: ClockVerdict, maxOffsetMs: number): void;
}

/** A leader barred by its clock hands over at most this often. */
const handOverEveryMs = 2_000;

/**
 * Bars this node from leading while its clock disagrees with a majority of voters' by more than
 * --max-clock-offset, and has a leader so barred hand over. `check` runs on the node's due timer.
 */
export class ClockGuard {
  #verdict: ClockVerdict = { mayLead: true, agreeing: [], beyond: [] };
  #handOverAtMs = 0;

  constructor(readonly ports: ClockPorts) {}

  /** The last verdict's: whether this node may lead. */
  get mayLead(): boolean {
    return this.#verdict.mayLead;
  }

  check(nowMs: number): void {
    const p = this.ports;
    const verdict = clockVerdict(p.selfId, p.voters(), (id) => p.estimate(id), p.maxOffsetMs);
    const kind = (v: ClockVerdict) => (v.mayLead ? "ok" : v.beyond.length > 0 ? "far" : "unknown");
    const changed = kind(verdict) !== kind(this.#verdict);
    if (verdict.mayLead !== this.#verdict.mayLead) p.setMayLead(verdict.mayLead);
    this.#verdict = verdict;
    if (changed) p.onVerdict?.(verdict, p.maxOffsetMs);
    if (verdict.mayLead || !p.isLeader() || nowMs - this.#handOverAtMs < handOverEveryMs) return;
    this.#handOverAtMs = nowMs;
    try {
      p.handOver();
    } catch {
      // no voter to hand over to; check-quorum or a later try settles it
    }
  }
}
