// ReadRounds: the leader's ReadIndex rounds answered in order, and refused whole on a step-down.

import assert from "node:assert/strict";
import { ReadRounds } from "../../src/raft/read_only.ts";

Deno.test("read rounds: answered oldest first, never past an unconfirmed round", () => {
  const reads = new ReadRounds();
  reads.open(["a"], 5);
  reads.open(["b", "c"], 7);
  assert.equal(reads.seq, 2);
  assert.equal(reads.hasOutput, false);
  // Round 2 alone confirmed (an acknowledgement of an older heartbeat lost): nothing yet.
  reads.release((seq) => seq === 2);
  assert.equal(reads.hasOutput, false);
  reads.release((seq) => seq <= 1);
  assert.deepEqual(reads.takeOutput(), { readStates: [{ id: "a", index: 5 }], droppedReads: [] });
  reads.release(() => true);
  assert.deepEqual(reads.takeOutput().readStates, [{ id: "b", index: 7 }, { id: "c", index: 7 }]);
  assert.equal(reads.hasOutput, false, "taken output is gone");
});

Deno.test("read rounds: a step-down refuses the open rounds and the reads held for a commit", () => {
  const reads = new ReadRounds();
  reads.awaitCommit(["early"]);
  reads.open(["a"], 3);
  reads.answer(["solo"], 4);
  reads.dropAll();
  reads.release(() => true);
  assert.deepEqual(reads.takeOutput(), {
    readStates: [{ id: "solo", index: 4 }],
    droppedReads: ["a", "early"],
  });
  assert.deepEqual(reads.takeAwaitingCommit(), []);
});
