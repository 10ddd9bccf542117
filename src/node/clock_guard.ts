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
