// Snapshots: compaction, chunked InstallSnapshot, and catching up a node whose log was compacted.

import assert from "node:assert/strict";
import {
  emptyInit,
  makeRaftConfig,
  type Message,
  type SnapshotMessage,
} from "../../src/raft/mod.ts";
import { TestCluster } from "./harness.ts";

/** A leader compacts its log at its applied index, keeping `data` as the snapshot. */
function compactLeader(c: TestCluster, id: string, data: Uint8Array): number {
  const node = c.nodes.get(id)!;
  const meta = node.raft.compact(node.raft.applied);
  node.snapshot = meta;
  node.snapshotData = data;
  node.entries = node.entries.filter((e) => e.index > meta.index);
  return meta.index;
}

/**
 * A two-node cluster whose leader compacted its log into `data`, and a learner `d` joining it:
 * the learner needs the snapshot, sent in 4-byte chunks (resent after `resendTicks`).
 */
function joiningLearner(data: Uint8Array, resendTicks: number): { c: TestCluster; index: number } {
  const c = new TestCluster(["a", "b"], {
    snapshotChunkBytes: 4,
    snapshotResendTicks: resendTicks,
  });
  c.elect("a");
  for (let i = 0; i < 5; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  const index = compactLeader(c, "a", data);
  c.add("d", emptyInit(), { snapshotChunkBytes: 4 });
  c.get("a").proposeConfChange({ type: "addLearner", id: "d", url: "" });
  return { c, index };
}

/**
 * Delivers the cluster's messages by hand, batch by batch (at most `rounds`), until none is left;
 * `each` delivers a message (or not) and sees it on the way.
 */
function deliverRounds(c: TestCluster, rounds: number, each: (m: Message) => void): void {
  for (let round = 0; round < rounds; round++) {
    c.flush();
    const batch = c.queue;
    c.queue = [];
    if (batch.length === 0) return;
    for (const m of batch) each(m);
  }
}

Deno.test("compaction forgets entries up to the snapshot and keeps their term", () => {
  const c = new TestCluster(["a"]);
  c.elect("a");
  for (let i = 0; i < 10; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  const index = compactLeader(c, "a", new Uint8Array([1]));
  const log = c.get("a").log;
  assert.equal(log.firstIndex(), index + 1);
  assert.equal(log.term(index), c.get("a").term);
  assert.equal(log.entry(index), undefined);
  assert.throws(() => c.get("a").compact(c.get("a").applied + 1), RangeError);
});

Deno.test("a new node catches up by a chunked snapshot, then by the log", () => {
  const c = new TestCluster(["a", "b", "c"], { snapshotChunkBytes: 4 });
  c.elect("a");
  for (let i = 0; i < 20; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  const data = new TextEncoder().encode("state-machine-image-0123456789");
  const snapIndex = compactLeader(c, "a", data);
  c.add("d", emptyInit(), { snapshotChunkBytes: 4 });
  assert.ok(c.get("a").proposeConfChange({ type: "addLearner", id: "d", url: "" }).ok);
  c.flush();
  const chunks: SnapshotMessage[] = [];
  for (let round = 0; round < 200 && c.queue.length > 0; round++) {
    const batch = c.queue;
    c.queue = [];
    for (const m of batch) {
      if (m.type === "snapshot") chunks.push(m);
      c.deliver(m);
    }
    c.flush();
  }
  assert.equal(chunks.length, Math.ceil(data.length / 4), "one message per 4-byte chunk");
  const d = c.nodes.get("d")!;
  assert.equal(d.snapshot.index, snapIndex);
  const received = d.readies.flatMap((rd) => rd.snapshotChunks.map((ch) => [...ch.data])).flat();
  assert.deepEqual(new Uint8Array(received), data, "the chunks reassemble the snapshot");
  assert.equal(d.raft.log.lastIndex(), c.get("a").log.lastIndex(), "then the log follows");
  assert.equal(d.raft.membership.members.length, 4);
});

Deno.test("a lost snapshot chunk is sent again", () => {
  const { c } = joiningLearner(new TextEncoder().encode("0123456789ab"), 2);
  let lost = 0;
  for (let round = 0; round < 100; round++) {
    c.flush();
    const batch = c.queue;
    c.queue = [];
    for (const m of batch) {
      if (m.type === "snapshot" && m.offset === 4 && lost === 0) {
        lost++;
        continue;
      }
      c.deliver(m);
    }
    c.tick("a");
  }
  assert.equal(lost, 1);
  assert.equal(c.nodes.get("d")!.snapshot.index, c.get("a").log.snapshot.index);
});

Deno.test("duplicated chunks and answers do not multiply a snapshot transfer", () => {
  // Every message delivered twice: each chunk must still go about once, not once per copy of
  // each answer before it (that grew geometrically, a message storm, in the simulator).
  const data = new TextEncoder().encode("state-machine-image-0123456789-abcdefghij");
  const { c } = joiningLearner(data, 1000);
  let chunksSent = 0;
  deliverRounds(c, 200, (m) => {
    if (m.type === "snapshot" && m.from === "a") chunksSent++;
    c.deliver(m);
    c.deliver(m);
  });
  assert.equal(c.nodes.get("d")!.snapshot.index, c.get("a").log.snapshot.index, "installed");
  const chunks = Math.ceil(data.length / 4);
  assert.ok(chunksSent <= 2 * chunks, `${chunksSent} chunks sent for ${chunks}`);
});

for (const [wanted, label] of [[0, "the start"], [4, "an earlier chunk"]] as const) {
  Deno.test(`a follower that wants ${label} again gets it, whatever is in flight`, () => {
    const { c, index } = joiningLearner(new TextEncoder().encode("0123456789abcdef"), 1000);
    const offsets: number[] = [];
    deliverRounds(c, 100, (m) => {
      if (m.type === "snapshot") offsets.push(m.offset);
      // After three chunks the follower asks for an earlier offset (as after a restart, or a
      // late copy of an old chunk resetting what it holds): the leader follows it.
      if (m.type === "snapshotResp" && m.nextOffset === 12 && !offsets.includes(-1)) {
        offsets.push(-1);
        return c.deliver({ ...m, nextOffset: wanted });
      }
      c.deliver(m);
    });
    assert.deepEqual(offsets.slice(0, 5), [0, 4, 8, -1, wanted]);
    assert.equal(c.nodes.get("d")!.snapshot.index, index);
  });
}

Deno.test("a chunk at an unexpected offset is answered with the offset wanted", () => {
  const c = new TestCluster(["a", "b"]);
  const b = c.get("b");
  const meta = { index: 50, term: 3, membership: c.get("a").membership };
  const lastBefore = b.log.lastIndex();
  b.step({
    type: "snapshot",
    term: 3,
    from: "a",
    to: "b",
    meta,
    offset: 8,
    chunk: new Uint8Array(4),
    done: false,
  });
  c.flush();
  const resp = c.queue.find((m) => m.type === "snapshotResp");
  assert.ok(resp && resp.type === "snapshotResp");
  assert.equal(resp.nextOffset, 0);
  assert.equal(b.log.lastIndex(), lastBefore, "nothing installed");
});

Deno.test("a snapshot the follower's log already covers only advances its commit", () => {
  const c = new TestCluster(["a", "b"]);
  c.elect("a");
  for (let i = 0; i < 5; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  const a = c.get("a");
  const b = c.get("b");
  const meta = { index: a.log.lastIndex(), term: a.term, membership: a.membership };
  const lastBefore = b.log.lastIndex();
  b.step({
    type: "snapshot",
    term: a.term,
    from: "a",
    to: "b",
    meta: { ...meta, index: meta.index },
    offset: 0,
    chunk: new Uint8Array(1),
    done: true,
  });
  c.flush();
  assert.equal(b.log.lastIndex(), lastBefore, "the log was kept");
  assert.equal(c.nodes.get("b")!.readies.some((rd) => rd.snapshot !== null), false);
});

Deno.test("a voter holding half a snapshot still campaigns when its leader is gone", () => {
  const c = new TestCluster(["a", "b", "c"]);
  const b = c.get("b");
  b.step({
    type: "snapshot",
    term: 2,
    from: "a",
    to: "b",
    meta: { index: 50, term: 2, membership: b.membership },
    offset: 0,
    chunk: new Uint8Array(4),
    done: false,
  });
  c.flush();
  c.queue = [];
  c.isolate("a");
  const leader = c.tickUntilLeader(["b", "c"]);
  assert.ok(leader === "b" || leader === "c");
});

Deno.test("compaction's floor is the slowest follower's match, not one silent past the hold", () => {
  const c = new TestCluster(["a", "b", "c"], { catchUpHoldTicks: 20 });
  c.elect("a");
  for (let i = 0; i < 5; i++) c.get("a").propose([`x${i}`]);
  c.stabilize();
  const a = c.get("a");
  assert.equal(a.catchUpFloor(), a.log.lastIndex());
  assert.equal(c.get("b").catchUpFloor(), Infinity, "a follower holds nothing back");
  const cHas = a.progress.get("c")!.match;
  c.isolate("c");
  for (let i = 0; i < 5; i++) a.propose([`y${i}`]);
  c.stabilize();
  assert.equal(a.commit, a.log.lastIndex());
  assert.equal(a.catchUpFloor(), cHas, "c was heard lately: compacting past it cuts it off");
  for (let t = 0; t < 20; t++) {
    c.tick("a");
    c.stabilize();
  }
  assert.equal(a.role, "leader");
  assert.equal(a.catchUpFloor(), cHas, "the hold has not passed");
  c.tick("a");
  c.stabilize();
  assert.equal(a.catchUpFloor(), a.log.lastIndex(), "c is gone: only b holds the log");
});

Deno.test("a follower down for a restart still holds compaction by default", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const a = c.get("a");
  a.propose(["x"]);
  c.stabilize();
  const cHas = a.progress.get("c")!.match;
  c.isolate("c");
  for (let i = 0; i < 5; i++) a.propose([`y${i}`]);
  // A minute of 50 ms ticks: ten election timeouts and more, far past the old two.
  for (let t = 0; t < 1_200; t++) {
    c.tick("a");
    c.stabilize();
  }
  assert.equal(a.role, "leader");
  assert.equal(a.catchUpFloor(), cHas, "c comes back to the entries it lacks, not an image");
  for (let t = 0; t < 4_801; t++) {
    c.tick("a");
    c.stabilize();
  }
  assert.equal(a.role, "leader");
  assert.equal(a.catchUpFloor(), a.log.lastIndex(), "past the hold, c no longer holds the log");
  for (const bad of [-1, 0.5, NaN]) {
    assert.throws(() => makeRaftConfig({ id: "a", randomInt: () => 0, catchUpHoldTicks: bad }));
  }
});

Deno.test("a snapshot's chunks need no flush, its install does; a restart starts the transfer over", () => {
  const c = new TestCluster(["a", "b"]);
  let b = c.get("b");
  const meta = { index: 50, term: 3, membership: c.get("a").membership };
  const chunk = (offset: number, done = false): SnapshotMessage => ({
    type: "snapshot",
    term: 3,
    from: "a",
    to: "b",
    meta,
    offset,
    chunk: new Uint8Array(4),
    done,
  });
  b.step(chunk(0));
  const first = b.ready();
  assert.ok(first.mustSync, "the first chunk comes with a new term, which must be durable");
  b.advance(first);
  b.step(chunk(4));
  const rd = b.ready();
  assert.equal(rd.snapshotChunks.length, 1);
  assert.equal(rd.mustSync, false, "a chunk alone is answered without a flush");
  const resp = rd.persistedMessages.find((m) => m.type === "snapshotResp");
  assert.ok(resp && resp.type === "snapshotResp" && resp.nextOffset === 8);
  b.advance(rd);
  b = c.restart("b"); // what it received is forgotten
  b.step(chunk(8));
  c.flush(["b"]);
  const again = c.queue.find((m) => m.type === "snapshotResp");
  assert.ok(again && again.type === "snapshotResp" && again.nextOffset === 0, "from the start");
  c.queue = [];
  for (const offset of [0, 4]) b.step(chunk(offset));
  b.step(chunk(8, true));
  const install = b.ready();
  assert.deepEqual(install.snapshot, meta);
  assert.ok(install.mustSync, "the install must be durable before it is acknowledged");
});

Deno.test("an image past the log's start goes to a node behind the log; the others keep the log", () => {
  const c = new TestCluster(["a", "b", "c"], { snapshotChunkBytes: 4 });
  c.elect("a");
  const a = c.get("a");
  for (let i = 0; i < 5; i++) a.propose([`x${i}`]);
  c.stabilize();
  const start = a.compact(3).index;
  c.isolate("c");
  for (let i = 0; i < 10; i++) a.propose([`y${i}`]);
  c.stabilize();
  assert.throws(() => a.imageAt(start - 1), RangeError, "below the log's start");
  assert.throws(() => a.imageAt(a.applied + 1), RangeError, "past applied");
  const image = a.imageAt(a.applied);
  assert.equal(a.log.snapshot.index, start, "an image compacts nothing");
  assert.deepEqual(a.sendableSnapshot, image);
  assert.equal(image.term, a.log.term(image.index));
  const node = c.nodes.get("a")!;
  node.snapshot = image; // what the harness's reader serves
  node.snapshotData = new TextEncoder().encode("image-bytes");
  c.add("d", emptyInit(), { snapshotChunkBytes: 4 });
  assert.ok(a.proposeConfChange({ type: "addLearner", id: "d", url: "" }).ok);
  c.heal();
  const snapshotsTo = new Set<string>();
  for (let round = 0; round < 300; round++) {
    c.flush();
    const batch = c.queue;
    c.queue = [];
    if (batch.length === 0) break;
    for (const m of batch) {
      if (m.type === "snapshot") snapshotsTo.add(m.to);
      c.deliver(m);
    }
    if (round % 5 === 0) c.tick("a");
  }
  assert.deepEqual([...snapshotsTo], ["d"], "c, behind the image but not the log, got entries");
  assert.equal(c.get("d").log.snapshot.index, image.index);
  for (const id of ["c", "d"]) assert.equal(c.get(id).log.lastIndex(), a.log.lastIndex(), id);
  a.compact(a.applied);
  assert.deepEqual(a.sendableSnapshot, a.log.snapshot, "compacted past it, the image is not sent");
});

Deno.test("a transfer under way moves to a newer image without asking for the old one again", () => {
  const asked: number[] = [];
  const images = new Map<number, Uint8Array>();
  const c = new TestCluster(["a", "b"], {
    snapshotChunkBytes: 4,
    snapshotReader: (index, off, max) => {
      asked.push(index);
      const data = images.get(index);
      return data ? { data: data.subarray(off, off + max), done: off + max >= data.length } : null;
    },
  });
  c.elect("a");
  const a = c.get("a");
  for (let i = 0; i < 5; i++) a.propose([`x${i}`]);
  c.stabilize();
  a.compact(a.applied);
  const first = a.imageAt(a.applied);
  images.set(first.index, new TextEncoder().encode("first-image-bytes"));
  c.add("d", emptyInit(), { snapshotChunkBytes: 4 });
  assert.ok(a.proposeConfChange({ type: "addLearner", id: "d", url: "" }).ok);
  deliverRounds(c, 6, (m) => c.deliver(m));
  assert.equal(a.progress.get("d")!.state, "snapshot");
  assert.ok(a.progress.get("d")!.snapshotOffset > 0, "part of the first image is sent");
  const second = a.imageAt(a.applied);
  assert.ok(second.index > first.index);
  images.delete(first.index); // the store keeps one image
  images.set(second.index, new TextEncoder().encode("second-image"));
  asked.length = 0;
  deliverRounds(c, 100, (m) => c.deliver(m));
  assert.ok(!asked.includes(first.index), `asked for ${asked}: the old image reads as missing`);
  assert.equal(c.get("d").log.snapshot.index, second.index);
  assert.equal(c.get("d").log.lastIndex(), a.log.lastIndex());
});
