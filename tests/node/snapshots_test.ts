// The Ready loop's snapshot maker: one capture answers every follower that asked during it.

import assert from "node:assert/strict";
import type { AppliedState, LogStore } from "../../src/node/ports.ts";
import { Snapshotter } from "../../src/node/snapshots.ts";
import type { SnapshotMeta } from "../../src/raft/mod.ts";
import { TestCluster } from "../raft/harness.ts";

/** A leader alone, its store's captures held until the test finishes them. */
function leaderWithStore() {
  const c = new TestCluster(["a"]);
  c.elect("a");
  const raft = c.get("a");
  const captures: ((error: Error | null, index: number) => void)[] = [];
  const saved: SnapshotMeta[] = [];
  const store = {
    hasImage: (index: number) => saved.at(-1)?.index === index,
    capture: (done: (error: Error | null, index: number) => void) => captures.push(done),
    saveSnapshot: (meta: SnapshotMeta) => saved.push(meta),
    discardCapture: () => {},
  } as Partial<LogStore> as LogStore;
  const sm = {
    get appliedIndex() {
      return raft.applied;
    },
  } as AppliedState<unknown>;
  const propose = (n: number) => {
    for (let i = 0; i < n; i++) raft.propose([`x${i}`]);
    c.stabilize();
  };
  const snapshots = new Snapshotter(raft, store, sm, () => {}, () => {});
  return { raft, captures, saved, propose, snapshots };
}

Deno.test("snapshots: followers asking during a capture get its image, not another one", () => {
  const { raft, captures, saved, propose, snapshots } = leaderWithStore();
  propose(3);
  snapshots.want();
  snapshots.step(false);
  assert.equal(captures.length, 1);
  // The core asks again on every resend while there is no image; writes go on.
  snapshots.want();
  snapshots.step(false);
  propose(2);
  captures[0](null, raft.applied - 2);
  snapshots.want();
  snapshots.step(false);
  assert.deepEqual(saved.map((m) => m.index), [raft.applied - 2], "adopted");
  assert.equal(raft.sendableSnapshot.index, raft.applied - 2);
  assert.equal(captures.length, 1, "no second image: the applied index moved on, nobody lacks one");
  // Asked again once there is an image and more was applied (POST /admin/snapshot): a new one.
  let answered = -1;
  snapshots.request((error, index) => (answered = error ? -2 : index));
  snapshots.step(false);
  assert.equal(captures.length, 2);
  captures[1](null, raft.applied);
  snapshots.step(false);
  assert.equal(answered, raft.applied);
});
