// One-at-a-time membership changes: learners, promotion, removal (the leader's too).

import assert from "node:assert/strict";
import { emptyInit, voterIds } from "../../src/raft/mod.ts";
import { TestCluster } from "./harness.ts";

Deno.test("membership: a learner receives the log but never counts toward commit", () => {
  const c = new TestCluster(["a", "b"]);
  c.elect("a");
  c.add("l", emptyInit());
  assert.ok(c.get("a").proposeConfChange({ type: "addLearner", id: "l", url: "test://l" }).ok);
  c.stabilize();
  assert.equal(c.get("l").log.lastIndex(), c.get("a").log.lastIndex());
  c.isolate("b");
  const res = c.get("a").propose(["x"]);
  assert.ok(res.ok);
  c.stabilize();
  assert.ok(c.get("a").commit < res.lastIndex, "a + learner is not a majority of {a, b}");
});

Deno.test("membership: a promoted learner counts toward quorum", () => {
  const c = new TestCluster(["a", "b"]);
  c.elect("a");
  c.add("l", emptyInit());
  c.get("a").proposeConfChange({ type: "addLearner", id: "l", url: "" });
  c.stabilize();
  assert.ok(c.get("a").proposeConfChange({ type: "promote", id: "l", url: "" }).ok);
  c.stabilize();
  assert.deepEqual(voterIds(c.get("a").membership), ["a", "b", "l"]);
  c.isolate("b");
  const res = c.get("a").propose(["x"]);
  assert.ok(res.ok);
  c.stabilize();
  assert.equal(c.get("a").commit, res.lastIndex, "a + l is a majority of three");
});

Deno.test("membership: one change at a time", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("b");
  c.isolate("c");
  assert.ok(c.get("a").proposeConfChange({ type: "addLearner", id: "x", url: "" }).ok);
  const second = c.get("a").proposeConfChange({ type: "addLearner", id: "y", url: "" });
  assert.equal(second.ok, false);
  assert.equal(!second.ok && second.error, "conf_pending");
});

Deno.test("membership: no change before the new leader's no-op commits", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.electWithoutAppends("a");
  assert.equal(c.get("a").role, "leader");
  const r = c.get("a").proposeConfChange({ type: "addLearner", id: "x", url: "" });
  assert.equal(r.ok, false);
});

Deno.test("membership: invalid changes are refused with a reason", () => {
  const c = new TestCluster(["a"]);
  c.elect("a");
  const r1 = c.get("a").proposeConfChange({ type: "promote", id: "zz", url: "" });
  assert.equal(!r1.ok && r1.error, "invalid_conf");
  const r2 = c.get("a").proposeConfChange({ type: "remove", id: "a", url: "" });
  assert.equal(!r2.ok && r2.message, "cannot remove the last voter");
  const r3 = c.get("a").proposeConfChange({ type: "addLearner", id: "a", url: "" });
  assert.equal(r3.ok, false);
});

Deno.test("membership: a removed follower stops counting and never campaigns", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  assert.ok(c.get("a").proposeConfChange({ type: "remove", id: "c", url: "" }).ok);
  c.stabilize();
  c.tick("a");
  c.stabilize();
  assert.deepEqual(voterIds(c.get("a").membership), ["a", "b"]);
  assert.equal(c.get("c").promotable(), false);
  const before = c.get("c").stats.campaigns;
  c.tick("c", 50);
  assert.equal(c.get("c").stats.campaigns, before);
});

Deno.test("membership: a leader that removes itself steps down once the removal commits", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  assert.ok(c.get("a").proposeConfChange({ type: "remove", id: "a", url: "" }).ok);
  c.stabilize();
  assert.equal(c.get("a").role, "follower");
  assert.deepEqual(voterIds(c.get("b").membership), ["b", "c"]);
  const leader = c.tickUntilLeader(["b", "c"]);
  assert.equal(voterIds(c.get(leader).membership).includes("a"), false);
});

Deno.test("membership: an uncommitted change is undone when its entry is truncated", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.get("a").proposeConfChange({ type: "addLearner", id: "x", url: "" });
  c.flush();
  c.queue = [];
  assert.equal(c.get("a").membership.members.length, 4);
  const leader = c.tickUntilLeader(["b", "c"]);
  c.heal();
  c.tick(leader);
  c.stabilize();
  assert.equal(c.get("a").membership.members.length, 3);
});
