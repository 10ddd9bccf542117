// Inputs between ready() and advance(): appends taken out early, commits applied early, once,
// never before their entries are written.

import assert from "node:assert/strict";
import { emptyInit, type Entry, makeRaftConfig, Raft } from "../../src/raft/mod.ts";
import { appendMsg, fixedRandom, TestCluster } from "./harness.ts";

const data = (entries: readonly Entry[]) => entries.map((e) => e.data);

Deno.test("while a leader writes a Ready, new appends leave and a follower quorum commits them", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const a = c.get("a");
  a.propose(["x"]);
  const rd = a.ready(); // the leader's write of x is in flight
  c.queue.push(...rd.messages);
  a.propose(["y"]);
  const early = a.takeMessages();
  assert.ok(
    early.some((m) => m.type === "append" && m.entries.some((e) => e.data === "y")),
    "y's appends leave before the leader's own write is done",
  );
  assert.deepEqual(a.takeMessages(), [], "taken once");
  c.queue.push(...early);
  for (let round = 0; round < 4; round++) {
    for (const m of c.take(() => true)) c.deliver(m);
    c.flush(["b", "c"]); // a is still writing its Ready
  }
  assert.equal(a.commit, rd.entries[0].index + 1, "b and c committed x and y without a's flush");
  const committed = a.takeCommittedEntries();
  assert.deepEqual(data(committed), ["x"], "x (being written) applies without a's own flush");
  assert.equal(a.applied, committed.at(-1)!.index);
  assert.deepEqual(a.takeCommittedEntries(), [], "handed out once; y is not written yet");
  a.advance(rd);
  const next = a.ready();
  assert.deepEqual(data(next.entries), ["y"], "y is still for the leader to persist");
  assert.deepEqual(data(next.committedEntries), ["y"], "and applies in the Ready that writes it");
  a.advance(next);
  assert.equal(a.applied, next.entries[0].index);
});

Deno.test("no commit is handed out mid-Ready while a received snapshot waits to be installed", () => {
  const d = new Raft(
    makeRaftConfig({ id: "d", electionTicks: 10, heartbeatTicks: 1, randomInt: fixedRandom(0) }),
    emptyInit(),
  );
  const out = d.ready(); // d is writing something when the snapshot arrives
  const membership = { members: [{ id: "a", url: "", voter: true }] };
  d.step({
    type: "snapshot",
    term: 2,
    from: "a",
    to: "d",
    meta: { index: 10, term: 2, membership },
    offset: 0,
    chunk: new Uint8Array([1]),
    done: true,
  });
  d.step(appendMsg("a", "d", 2, 10, 2, [[11, 2]], 11));
  assert.equal(d.commit, 11);
  assert.deepEqual(d.takeCommittedEntries(), [], "entry 11 must wait for the snapshot under it");
  d.advance(out);
  const rd = d.ready();
  assert.equal(rd.snapshot?.index, 10);
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [11], "installed first, then applied");
  d.advance(rd);
  assert.equal(d.applied, 11);
});
