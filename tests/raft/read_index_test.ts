// ReadIndex (dissertation §6.4): reads confirmed by a heartbeat round, never before the no-op commits.

import assert from "node:assert/strict";
import { TestCluster } from "./harness.ts";

function readStates(c: TestCluster, id: string) {
  return c.nodes.get(id)!.readies.flatMap((rd) => rd.readStates);
}

function dropped(c: TestCluster, id: string) {
  return c.nodes.get(id)!.readies.flatMap((rd) => rd.droppedReads);
}

Deno.test("read index: released at the commit index once a majority acknowledges a heartbeat", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.get("a").propose(["x"]);
  c.stabilize();
  const commit = c.get("a").commit;
  c.get("a").readIndex(["r1"]);
  c.flush();
  assert.deepEqual(readStates(c, "a"), [], "not before the heartbeat round");
  c.stabilize();
  assert.deepEqual(readStates(c, "a"), [{ id: "r1", index: commit }]);
});

Deno.test("read index: a leader cut off from the majority never releases a read", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.get("a").readIndex(["r1"]);
  c.stabilize();
  assert.deepEqual(readStates(c, "a"), []);
});

Deno.test("read index: one acknowledgement makes a majority of three (with the leader)", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.cut.add("a>c");
  c.get("a").readIndex(["r1"]);
  c.stabilize();
  assert.equal(readStates(c, "a").length, 1);
});

Deno.test("read index: waits for the new leader's no-op to commit", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.electWithoutAppends("a");
  const a = c.get("a");
  assert.equal(a.role, "leader");
  assert.equal(a.committedInTerm(), false);
  a.readIndex(["early"]);
  c.flush();
  assert.deepEqual(readStates(c, "a"), []);
  c.tick("a"); // the no-op's appends were lost; a heartbeat round brings them again
  c.stabilize();
  assert.equal(a.committedInTerm(), true);
  assert.deepEqual(readStates(c, "a").map((r) => r.id), ["early"]);
  assert.equal(readStates(c, "a")[0].index, a.commit);
});

Deno.test("read index: pending reads are dropped when the leader steps down", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.get("a").readIndex(["r1", "r2"]);
  c.tick("a", 20); // check-quorum deposes it
  c.flush();
  assert.equal(c.get("a").role, "follower");
  assert.deepEqual(dropped(c, "a").sort(), ["r1", "r2"]);
});

Deno.test("read index: a follower drops the read at once (the caller forwards to the leader)", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.get("b").readIndex(["r1"]);
  c.flush();
  assert.deepEqual(dropped(c, "b"), ["r1"]);
});

Deno.test("read index: a single-voter cluster releases reads at once", () => {
  const c = new TestCluster(["a"]);
  c.elect("a");
  c.get("a").readIndex(["r1"]);
  c.flush();
  assert.equal(readStates(c, "a").length, 1);
});
