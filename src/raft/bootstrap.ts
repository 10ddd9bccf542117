// The durable state a brand-new cluster starts from: one addVoter entry per founding member.

import { emptySnapshot } from "./log.ts";
import type { RaftInit } from "./raft.ts";
import { type Entry, type Member, NONE } from "./types.ts";

/**
 * The initial log of a cluster founded by `members` (all voters), already committed: every
 * founder starts from the same entries, so no election is needed to agree on them.
 */
export function bootstrapInit(members: readonly Pick<Member, "id" | "url">[]): RaftInit {
  if (members.length === 0) throw new RangeError("A cluster needs at least one founding member");
  const entries: Entry[] = members.map((m, k) => ({
    index: k + 1,
    term: 1,
    kind: "conf",
    data: "",
    change: { type: "addVoter", id: m.id, url: m.url },
  }));
  return {
    hardState: { term: 1, vote: NONE, commit: entries.length },
    snapshot: emptySnapshot,
    entries,
    appliedIndex: 0,
  };
}

/** The state of a node that joins an existing cluster: empty; the leader sends it everything. */
export function emptyInit(): RaftInit {
  return {
    hardState: { term: 0, vote: NONE, commit: 0 },
    snapshot: emptySnapshot,
    entries: [],
    appliedIndex: 0,
  };
}
