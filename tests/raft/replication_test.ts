// Log replication: consistency check, truncation, fast backtracking, commit rule, pipelining.

import assert from "node:assert/strict";
import {
  type AppendMessage,
  type AppendResponse,
  bootstrapInit,
  makeRaftConfig,
  Raft,
} from "../../src/raft/mod.ts";
import { appendMsg, drain, fixedRandom, lone, TestCluster } from "./harness.ts";

/** b's successful acknowledgement of the leader's log up to `index`. */
function ackFromB(term: number, index: number): AppendResponse {
  return {
    type: "appendResp",
    term,
    from: "b",
    to: "a",
    success: true,
    index,
    hintIndex: 0,
    hintTerm: 0,
  };
}

/** Makes a lone core leader with votes from b and c, and drains what that produced. */
function makeLeader(r: Raft): void {
  r.campaign();
  r.step({ type: "voteResp", term: r.term + 1, from: "b", to: r.id, preVote: true, granted: true });
  drain(r);
  r.step({ type: "voteResp", term: r.term, from: "b", to: r.id, preVote: false, granted: true });
  drain(r);
  assert.equal(r.role, "leader");
}

function appendResp(r: Raft): AppendResponse {
  const rd = drain(r);
  const out = [...rd.messages, ...rd.persistedMessages].filter((m) => m.type === "appendResp");
  assert.equal(out.length, 1);
  return out[0] as AppendResponse;
}

Deno.test("append: rejected when prevIndex/prevTerm do not match, with a conflict hint", () => {
  const r = lone("a", 3, [2, 2, 2]); // indexes 4..6 at term 2
  r.step(appendMsg("b", "a", 3, 6, 3, [[7, 3]]));
  const resp = appendResp(r);
  assert.equal(resp.success, false);
  assert.equal(resp.index, 6);
  assert.equal(resp.hintTerm, 2, "the hint names the follower's term at the conflict");
  assert.equal(r.log.lastIndex(), 6, "nothing appended");
});

Deno.test("append: a conflicting suffix is truncated and replaced", () => {
  const r = lone("a", 3, [2, 2, 2]);
  r.step(appendMsg("b", "a", 3, 4, 2, [[5, 3], [6, 3]], 4));
  const resp = appendResp(r);
  assert.equal(resp.success, true);
  assert.equal(resp.index, 6);
  assert.equal(r.log.term(5), 3);
  assert.equal(r.log.term(6), 3);
  assert.equal(r.log.lastIndex(), 6);
  assert.equal(r.commit, 4);
});

Deno.test("append: matching entries are kept and a shorter (stale) append truncates nothing", () => {
  const r = lone("a", 3, [3, 3, 3]);
  r.step(appendMsg("b", "a", 3, 3, 1, [[4, 3]]));
  assert.equal(appendResp(r).success, true);
  assert.equal(r.log.lastIndex(), 6);
});

Deno.test("append: the commit index never passes the last entry this append verified", () => {
  const r = lone("a", 3, [2, 2, 2]); // 4..6 may be stale
  r.step(appendMsg("b", "a", 3, 3, 1, [[4, 2]], 6));
  drain(r);
  assert.equal(r.commit, 4);
});

Deno.test("append: acknowledged only after the write (response waits for persist)", () => {
  const r = lone("a", 3);
  r.step(appendMsg("b", "a", 3, 3, 1, [[4, 3]]));
  const rd = drain(r);
  assert.equal(rd.entries.length, 1);
  assert.equal(rd.messages.length, 0);
  assert.equal(rd.persistedMessages[0].type, "appendResp");
});

Deno.test("leader: an old-term entry on a majority is not committed until one of its own term is (§5.4.2)", () => {
  const r = lone("a", 3, [2]); // index 4 at term 2
  makeLeader(r); // term 4, no-op at 5
  assert.equal(r.log.term(5), 4);
  r.step(ackFromB(4, 4));
  drain(r);
  assert.equal(r.commit, 3, "index 4 is on a majority but of an older term");
  r.step(ackFromB(4, 5));
  drain(r);
  assert.equal(r.commit, 5, "committing the no-op commits index 4 with it");
});

Deno.test("leader: its own entries count for commit only once durable", () => {
  const r = lone("a", 1);
  makeLeader(r);
  const res = r.propose(["x"]);
  assert.ok(res.ok);
  // b acknowledges before the leader has written its own copy: 1 of 3 is no majority.
  r.step(ackFromB(r.term, res.lastIndex));
  assert.equal(r.commit < res.lastIndex, true);
  drain(r); // the leader's write; advance() counts it
  assert.equal(r.commit, res.lastIndex);
});

Deno.test("fast backtracking: a follower with a long divergent tail is repaired in few round trips", () => {
  const c = new TestCluster(["a", "b", "c"]);
  // b holds 50 entries of term 1 that nobody else has (it was a leader once, cut off).
  const init = bootstrapInit(["a", "b", "c"].map((id) => ({ id, url: `test://${id}` })));
  for (let i = 4; i < 54; i++) {
    init.entries.push({ index: i, term: 1, kind: "normal", data: "stale" });
  }
  c.add("b", init);
  c.isolate("b");
  c.elect("a");
  for (let i = 0; i < 60; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  // A new leader starts probing b from the end of its own (long) log.
  c.get("a").transferLeadership("c");
  c.stabilize();
  assert.equal(c.get("c").role, "leader");
  c.heal();
  c.tick("c");
  let rejections = 0;
  for (let round = 0; round < 100; round++) {
    c.flush();
    if (c.queue.length === 0) break;
    const batch = c.queue;
    c.queue = [];
    for (const m of batch) {
      if (m.type === "appendResp" && !m.success && m.from === "b") rejections++;
      c.deliver(m);
    }
  }
  const b = c.get("b");
  assert.equal(b.log.lastIndex(), c.get("c").log.lastIndex());
  assert.equal(b.log.term(4), 2, "the stale tail was replaced");
  assert.ok(rejections <= 2, `repaired with ${rejections} rejections, not one per entry`);
});

Deno.test("pipelining: a leader sends several appends to a follower without waiting", () => {
  const c = new TestCluster(["a", "b", "c"], { maxInflightAppends: 3 });
  c.elect("a");
  const a = c.get("a");
  for (let i = 0; i < 5; i++) a.propose([`x${i}`]);
  c.flush();
  const toB = c.queue.filter((m) => m.type === "append" && m.to === "b") as AppendMessage[];
  assert.equal(toB.length, 3, "up to the in-flight window, then paused");
  c.stabilize();
  assert.equal(c.get("b").log.lastIndex(), a.log.lastIndex());
});

Deno.test("pipelining: the window holds a bounded number of bytes too, and reopens", () => {
  // Entries of 2,032 bytes as the core counts them; 5,000 bytes in flight: three appends.
  const c = new TestCluster(["a", "b", "c"], { maxInflightBytes: 5_000, maxAppendBytes: 1 });
  c.elect("a");
  const a = c.get("a");
  for (let i = 0; i < 6; i++) a.propose(["y".repeat(2_000)]);
  c.flush();
  const toB = () => c.take((m) => m.type === "append" && m.to === "b") as AppendMessage[];
  assert.equal(toB().length, 3, "5,000 bytes reached at the third append: paused");
  assert.equal(a.progress.get("b")!.inflightBytes, 3 * 2_032);
  // The appends were lost: a heartbeat's answer lets one more go (as a full count window does).
  c.take(() => true);
  c.tick("a");
  c.flush();
  for (const m of c.take((m) => m.type === "heartbeat" && m.to === "b")) c.deliver(m);
  c.flush();
  for (const m of c.take((m) => m.type === "heartbeatResp")) c.deliver(m);
  c.flush();
  assert.equal(toB().length, 1, "one slot freed, one append sent");
  // That one was lost too; heartbeats go on freeing slots, b refuses appends past the lost ones,
  // and the leader probes back from what b has.
  for (let t = 0; t < 10; t++) {
    c.tick("a");
    c.stabilize();
  }
  assert.equal(c.get("b").log.lastIndex(), a.log.lastIndex(), "it catches up all the same");
});

Deno.test("batching: one proposal of many commands is one entry each and one message per follower", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const res = c.get("a").propose(Array.from({ length: 100 }, (_, i) => `cmd${i}`));
  assert.ok(res.ok);
  assert.equal(res.lastIndex - res.firstIndex + 1, 100);
  c.flush();
  const appends = c.queue.filter((m) => m.type === "append") as AppendMessage[];
  assert.equal(appends.length, 2);
  assert.ok(appends.every((m) => m.entries.length === 100));
  c.stabilize();
  assert.equal(c.get("c").commit, res.lastIndex);
});

Deno.test("proposals to a follower are refused with not_leader", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const res = c.get("b").propose(["x"]);
  assert.equal(res.ok, false);
  assert.equal(!res.ok && res.error, "not_leader");
});

Deno.test("committed entries are applied in order on every node", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  for (let i = 0; i < 10; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  c.tick("a"); // a heartbeat carries the final commit index
  c.stabilize();
  const datas = (id: string) =>
    c.nodes.get(id)!.applied.filter((e) => e.kind === "normal").map((e) => e.data);
  assert.deepEqual(datas("a"), Array.from({ length: 10 }, (_, i) => `x${i}`));
  assert.deepEqual(datas("b"), datas("a"));
  assert.deepEqual(datas("c"), datas("a"));
});

Deno.test("a restarted follower keeps its log and catches up", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.get("a").propose(["before"]);
  c.stabilize();
  c.isolate("c");
  c.get("a").propose(["while-down"]);
  c.stabilize();
  c.restart("c");
  c.heal();
  c.tick("a");
  c.stabilize();
  assert.equal(c.get("c").log.lastIndex(), c.get("a").log.lastIndex());
  assert.equal(c.get("c").commit, c.get("a").commit);
});

Deno.test("append: an append that would rewrite committed entries changes nothing", () => {
  const r = lone("a", 3, [2, 2, 2]); // indexes 4..6 at term 2
  r.step(appendMsg("b", "a", 3, 6, 2, [], 6));
  drain(r);
  assert.equal(r.commit, 6);
  // A broken leader claims index 5 holds a term-3 entry: what is committed never changes, and the
  // answer only reports the commit index (entries at or below it are never rewritten).
  assert.doesNotThrow(() => r.step(appendMsg("b", "a", 3, 4, 2, [[5, 3]], 6)));
  const resp = appendResp(r);
  assert.equal(resp.success, true);
  assert.equal(resp.index, 6);
  assert.equal(r.log.term(5), 2);
});

Deno.test("a Ready hands out about maxCommittedBytesPerReady of committed entries, at least one", () => {
  const init = bootstrapInit(["a", "b", "c"].map((id) => ({ id, url: "" })));
  const b = new Raft(
    makeRaftConfig({ id: "b", randomInt: fixedRandom(0), maxCommittedBytesPerReady: 100 }),
    { ...init, appliedIndex: 3 },
  );
  const m = appendMsg("a", "b", 2, 3, 1, [[4, 2], [5, 2], [6, 2], [7, 2], [8, 2]], 8);
  if (m.type === "append") m.entries[3].data = "x".repeat(500); // entry 7: 532 bytes alone
  b.step(m);
  const handedOut: number[][] = [];
  while (b.hasReady()) handedOut.push(drain(b).committedEntries.map((e) => e.index));
  // 34 bytes an entry: two fit in 100, a third would not; entry 7 is over the budget alone.
  assert.deepEqual(handedOut.filter((r) => r.length > 0), [[4, 5], [6], [7], [8]]);
  assert.equal(b.applied, 8);
});
