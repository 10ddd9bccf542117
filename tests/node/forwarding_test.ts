// A follower's forwards over the peer link: the leader's refusals come back as the same errors,
// and a read index is only given by a leader, to a member.

import assert from "node:assert/strict";
import { RaftqError } from "../../src/errors.ts";
import { acceptReadIndex, forwardReadIndex } from "../../src/node/forwarding.ts";
import { ProposalFailed } from "../../src/transport/proposals.ts";

const leader = (isLeader: boolean, index = 42) => ({
  isLeader,
  isMember: (id: string) => id === "n2",
  readIndex: () => Promise.resolve(index),
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProposalFailed) return err.error;
    if (err instanceof RaftqError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("it did not fail");
}

Deno.test("forwarding: a leader gives its read index to members only, and only while it leads", async () => {
  assert.deepEqual(await acceptReadIndex(leader(true), "n2"), { type: "readIndex", index: 42 });
  assert.equal((await refusal(acceptReadIndex(leader(true), "n9"))).code, "unauthorized");
  assert.equal((await refusal(acceptReadIndex(leader(false), "n2"))).code, "no_leader");
});

Deno.test("forwarding: a read index answer is checked; a refusal is the leader's own error", async () => {
  const answering = (answer: Record<string, unknown>) => ({
    forwardRead: () => Promise.resolve(answer),
  });
  assert.equal(await forwardReadIndex(answering({ type: "readIndex", index: 7 }), "n1", 1000), 7);
  for (
    const odd of [{ type: "readIndex", index: -1 }, { type: "acked", index: 7 }, {
      type: "readIndex",
    }]
  ) {
    assert.equal((await refusal(forwardReadIndex(answering(odd), "n1", 1000))).code, "unavailable");
  }
  const refusing = {
    forwardRead: () =>
      Promise.reject(
        new ProposalFailed({ code: "no_leader", message: "this node no longer leads" }),
      ),
  };
  assert.deepEqual(await refusal(forwardReadIndex(refusing, "n1", 1000)), {
    code: "no_leader",
    message: "this node no longer leads",
  });
  // No answer (a timeout, a closed link) is not an unknown outcome for a read: no leader.
  const silent = {
    forwardRead: () =>
      Promise.reject(new ProposalFailed({ code: "outcome_unknown", message: "no answer" })),
  };
  assert.deepEqual(await refusal(forwardReadIndex(silent, "n1", 1000)), {
    code: "no_leader",
    message: "The leader n1 gave no read index: no answer",
  });
});
