// A join lives while the learner makes progress and is given up when it makes none.

import assert from "node:assert/strict";
import { JoinTracker } from "../../src/node/joins.ts";
import type { Raft } from "../../src/raft/mod.ts";

function fakeLeader(commit: number) {
  const pr = { match: 0, state: "probe", pendingSnapshot: 0, snapshotOffset: 0 };
  const raft = { commit, role: "leader", progress: new Map([["n4", pr]]) };
  return { raft: raft as unknown as Raft, pr };
}

Deno.test("joins: snapshot bytes and entries count as progress; silence is a stall", () => {
  const { raft, pr } = fakeLeader(500);
  const joins = new JoinTracker(raft, () => 1_000_000 - 48, 100_000);
  joins.begin("n4", 0);
  assert.equal(joins.stalledMs("n4", 5_000), 5_000, "nothing moved for 5 s");
  Object.assign(pr, { state: "snapshot", pendingSnapshot: 480, snapshotOffset: 250_000 });
  assert.equal(joins.stalledMs("n4", 6_000), 0, "bytes arrived");
  const s = joins.status("n4", 10_000)!;
  assert.equal(s.state, "snapshot");
  assert.equal(s.snapshotBytes, 1_000_000);
  assert.equal(s.snapshotBytesSent, 250_000);
  assert.equal(s.etaSeconds, 30, "750 kB left at 25 kB/s");
  assert.equal(s.behindEntries, 500);
  assert.equal(s.summary, "snapshot 25% of 1 MiB, ~30 s left");
  // The last chunk is out: the learner installs (its acknowledgement comes after), no stall.
  pr.snapshotOffset = 950_000;
  joins.stalledMs("n4", 7_000);
  assert.equal(joins.stalledMs("n4", 60_000), 0, "installing counts as progress");
  assert.equal(joins.status("n4", 60_000)!.state, "installing");
  assert.equal(joins.status("n4", 60_000)!.summary, "installing a snapshot of 1 MiB");
  Object.assign(pr, { state: "replicate", match: 490 });
  assert.equal(joins.stalledMs("n4", 70_000), 0, "entries arrived");
  assert.equal(joins.caughtUp("n4"), false);
  assert.equal(joins.stalledMs("n4", 91_000), 21_000);
  pr.match = 500;
  assert.equal(joins.caughtUp("n4"), true, "caught up with what was committed at the join");
});

Deno.test("joins: a retried request shares the join; it ends with its last waiter", () => {
  const { raft } = fakeLeader(10);
  const joins = new JoinTracker(raft, () => null, 100_000);
  joins.begin("n4", 0);
  joins.begin("n4", 1_000);
  joins.end("n4");
  assert.ok(joins.status("n4", 2_000), "still tracked for the other waiter");
  joins.end("n4");
  assert.equal(joins.status("n4", 2_000), null);
});
