// Majority arithmetic: the index a majority has, and the outcome of a vote.

import type { NodeId } from "./types.ts";

/** The highest index that a majority of `voters` has reached (0 with no voters). */
export function majorityIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[Math.floor(voters.length / 2)];
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Whether `votes` (granted or refused, by voter) already decide an election among `voters`. */
export function voteOutcome(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteOutcome {
  const needed = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let refused = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) refused++;
  }
  if (granted >= needed) return "won";
  if (voters.length - refused < needed) return "lost";
  return "pending";
}

/** Whether the members of `ids` that are voters form a majority of `voters`. */
export function hasMajority(voters: readonly NodeId[], ids: ReadonlySet<NodeId>): boolean {
  const present = voters.filter((id) => ids.has(id)).length;
  return voters.length > 0 && present >= Math.floor(voters.length / 2) + 1;
}
