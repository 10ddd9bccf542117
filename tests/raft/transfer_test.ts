// Leadership transfer (dissertation §3.10): catch the target up, then TimeoutNow.

import assert from "node:assert/strict";
import { TestCluster } from "./harness.ts";

Deno.test("transfer: an up-to-date target becomes leader in the next term", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const term = c.get("a").term;
  const r = c.get("a").transferLeadership("b");
  assert.ok(r.ok);
  c.stabilize();
  assert.equal(c.get("b").role, "leader");
  assert.equal(c.get("b").term, term + 1);
  assert.equal(c.get("a").role, "follower");
});

Deno.test("transfer: a lagging target is caught up first, and nothing committed is lost", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("c");
  for (let i = 0; i < 20; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  const last = c.get("a").log.lastIndex();
  c.heal();
  assert.ok(c.get("a").transferLeadership("c").ok);
  c.stabilize();
  assert.equal(c.get("c").role, "leader");
  assert.ok(c.get("c").log.lastIndex() > last);
  assert.equal(c.get("c").log.entry(last)?.data, "x19");
});

Deno.test("transfer: proposals are refused while a transfer is in progress", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("b");
  c.get("a").propose(["x"]);
  c.stabilize();
  c.get("a").transferLeadership("b");
  const res = c.get("a").propose(["y"]);
  assert.equal(res.ok, false);
  assert.equal(!res.ok && res.error, "transferring");
});

Deno.test("transfer: abandoned after an election timeout when the target never answers", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("b");
  c.get("a").transferLeadership("b");
  c.tick("a", 10);
  c.stabilize();
  assert.equal(c.get("a").role, "leader");
  assert.equal(c.get("a").propose(["y"]).ok, true);
});

Deno.test("transfer: with no target named, the most up-to-date voter is chosen", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("b");
  c.get("a").propose(["x"]);
  c.stabilize();
  c.heal();
  const r = c.get("a").transferLeadership();
  assert.deepEqual(r, { ok: true, to: "c" });
});

Deno.test("transfer: refused to a non-voter, to itself and from a follower", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  assert.equal(c.get("a").transferLeadership("zz").ok, false);
  assert.equal(c.get("a").transferLeadership("a").ok, false);
  assert.equal(c.get("b").transferLeadership("c").ok, false);
});

Deno.test("TimeoutNow overrides the lease: voters in a live leader's lease still vote", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.tick("a"); // heartbeats: b and c are in a's lease
  c.stabilize();
  c.get("a").transferLeadership("c");
  c.stabilize();
  assert.equal(c.get("c").role, "leader");
});
