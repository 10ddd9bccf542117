// Membership: refused peers, transfers, removal, and a late node catching up by snapshot.

import assert from "node:assert/strict";
import {
  call,
  type ClusterNode,
  loopDelayCounts,
  TestCluster,
  waitFor,
} from "../helpers/cluster.ts";
import { startReadyNode } from "../helpers/node_process.ts";

/** Enqueues jobs `from` to `to` - 1 (their payloads) into `queue` at `url`, each answered 201. */
async function enqueueEach(url: string, queue: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const r = await call(`${url}/v1/queues/${queue}/jobs`, "POST", { payload: i });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
}

Deno.test("cluster: a node with the wrong cluster secret cannot join (exit 2), and is not left a member", async () => {
  const c = await TestCluster.start(3);
  try {
    const intruder = await c.join("bad", { secret: "a-completely-different-secret" });
    assert.equal(await intruder.exited(), 2);
    assert.match(
      intruder.stderr.join("\n"),
      /refused this cluster's peer link \(wrong cluster secret\)/,
    );
    const leader = await c.leader();
    const s = await c.status(leader);
    assert.deepEqual(s.members.map((m: { id: string }) => m.id).sort(), ["n1", "n2", "n3"]);
    assert.ok(leader.stderr.some((l) => l.includes('"peer_refused_us"')), "the refusal is logged");
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: a node holding another cluster's data refuses to be added", async () => {
  const c = await TestCluster.start(3);
  const other = await startReadyNode({ args: ["--id", "x1", "--cluster-secret", c.secret] });
  try {
    const leader = await c.leader();
    const r = await call(`${leader.url}/admin/members`, "POST", { id: "x1", url: other.url });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(r.body.error.message, /belongs to cluster/);
    const s = await c.status(leader);
    assert.equal(s.members.length, 3);
  } finally {
    await other.kill();
    await Deno.remove(other.dataDir, { recursive: true });
    await c.stop();
  }
});

Deno.test("cluster: transfer, removal of the leader itself, and a new node catching up by snapshot", async () => {
  const c = await TestCluster.start(3);
  try {
    let leader = await c.leader();
    for (let i = 0; i < 50; i++) {
      await call(`${leader.url}/v1/queues/s/jobs`, "POST", { payload: i });
    }
    // Transfer to a chosen node.
    const target = c.live().find((n) => n !== leader)!;
    const t = await call(`${leader.url}/admin/transfer`, "POST", { to: target.id });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    leader = await c.leader();
    assert.equal(leader.id, target.id);
    // Compact everything, then add a node: it can only catch up by snapshot.
    const snap = await call(`${leader.url}/admin/snapshot`, "POST");
    assert.ok(snap.body.snapshotIndex > 50);
    // The new node joins while writes keep coming.
    let loading = true;
    let written = 0;
    let unknown = 0; // a connection error leaves the outcome unknown
    const load = (async () => {
      while (loading) {
        try {
          const r = await call(`${leader.url}/v1/queues/load/jobs`, "POST", { payload: written });
          if (r.status === 201) written++;
          else if (r.status === 503) unknown++;
        } catch {
          unknown++;
        }
        // A breath between writes, so this test process also gets on with starting n4.
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const late = await c.join("n4");
    await c.waitForVoters(4).catch((err) => {
      throw new Error(`${err}\n${c.dump(30)}`);
    });
    loading = false;
    await load;
    assert.ok(written > 0, "writes went on during the join");
    const ls = await c.status(late);
    assert.ok(ls.snapshotIndex >= snap.body.snapshotIndex, "it installed the snapshot");
    await c.converged();
    const depth = await call(`${late.url}/v1/queues?consistency=local`, "GET");
    const byName = (name: string) =>
      depth.body.queues.find((q: { name: string }) => q.name === name);
    assert.equal(byName("s").ready, 50, "the snapshot carried the queue");
    const loaded = byName("load").ready;
    assert.ok(
      loaded >= written && loaded <= written + unknown,
      `and the log the writes made during the join (${loaded} jobs, ${written} acknowledged, ${unknown} unknown)`,
    );
    const lin = await call(`${late.url}/v1/queues`, "GET");
    assert.equal(lin.status, 200, "and it serves linearizable reads");
    // The leader removes itself: it hands over first.
    const removed = await call(`${leader.url}/admin/members/${leader.id}`, "DELETE").catch(
      (err) => {
        throw new Error(`${err}\n${c.dump()}`);
      },
    );
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(await leader.exited(), 0, "a removed node stops");
    assert.ok(leader.stderr.some((l) => l.includes('"removed_from_cluster"')));
    const after = await c.leader(c.live());
    const s = await c.status(after);
    assert.deepEqual(
      s.members.map((m: { id: string }) => m.id).sort(),
      c.live().map((n) => n.id).sort(),
    );
    assert.equal(
      (await call(`${after.url}/v1/queues/s/jobs`, "POST", { payload: "x" })).status,
      201,
    );
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: compaction copies nothing; a joining node gets a snapshot made on demand", async () => {
  const c = await TestCluster.start(3, undefined, ["--snapshot-every", "40"]);
  try {
    const leader = await c.leader();
    await enqueueEach(leader.url, "od", 0, 120);
    await c.converged();
    const before = await c.status(leader);
    assert.ok(
      before.snapshotIndex >= 80,
      `the log was compacted (snapshot ${before.snapshotIndex})`,
    );
    assert.ok(
      !leader.stderr.some((l) => l.includes('"snapshot_taken"')),
      "periodic compaction made no snapshot copy",
    );
    const late = await c.join("n4");
    await c.waitForVoters(4);
    await c.converged();
    assert.ok(leader.stderr.some((l) => l.includes('"snapshot_taken"')), "one was made for n4");
    assert.ok(late.stderr.some((l) => l.includes('"snapshot_installed"')));
    const depth = await call(`${late.url}/v1/queues?consistency=local`, "GET");
    assert.equal(depth.body.queues[0].ready, 120);
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: a node whose file is a received image restarts, leads and passes the state on", async () => {
  const c = await TestCluster.start(3, undefined, ["--snapshot-every", "40"]);
  try {
    const first = await c.leader();
    await enqueueEach(first.url, "sw", 0, 60);
    await c.converged();
    let n4 = await c.join("n4");
    await c.waitForVoters(4);
    await c.converged();
    assert.ok(n4.stderr.some((l) => l.includes('"snapshot_installed"')), "n4 installed an image");
    // kill -9, then the same data directory: the swapped-in file is the node's database now.
    await c.kill(n4);
    n4 = await c.restart(n4);
    await c.converged();
    const t = await call(`${(await c.leader()).url}/admin/transfer`, "POST", { to: "n4" });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal((await c.leader()).id, "n4");
    await enqueueEach(n4.url, "sw", 60, 100);
    // A fifth node can only catch up from n4's image, made from that file.
    const n5 = await c.join("n5");
    await c.waitForVoters(5);
    await c.converged();
    assert.ok(n4.stderr.some((l) => l.includes('"snapshot_taken"')), "n4 made an image for n5");
    assert.ok(n5.stderr.some((l) => l.includes('"snapshot_installed"')));
    const depth = await call(`${n5.url}/v1/queues?consistency=local`, "GET");
    assert.equal(depth.body.queues[0].ready, 100);
  } finally {
    await c.stop();
  }
});

/** The ticks a node has timed so far (each feeds its event-loop delay histogram once). */
async function ticks(n: ClusterNode): Promise<number> {
  const timed = (await loopDelayCounts(n)).get(Infinity);
  assert.ok(timed !== undefined, "the tick histogram is exported");
  return timed;
}

/**
 * Three nodes compacting every `everyEntries`, with the default election timeouts (0.5 to 1 s):
 * the leader keeps the log for a follower it heard from in the last five minutes, far longer than
 * a test's writes and a restart take. Ten jobs in `queue` are on every node.
 */
async function compactingCluster(everyEntries: number, queue: string) {
  const c = await TestCluster.start(3, undefined, ["--snapshot-every", String(everyEntries)]);
  try {
    const leader = await c.leader();
    await enqueueEach(leader.url, queue, 0, 10);
    await c.converged();
    return { c, leader, follower: c.live().find((n) => n !== leader)! };
  } catch (error) {
    await c.stop();
    throw error;
  }
}

Deno.test("cluster: a follower back from a restart catches up from the log, not from an image", async () => {
  const { c, leader, follower } = await compactingCluster(40, "tail");
  try {
    const killedAt = await ticks(leader);
    await c.kill(follower);
    await enqueueEach(leader.url, "tail", 10, 200);
    // Down for 40 of the leader's ticks (2 s), past two election timeouts (the hold's old length).
    await waitFor(
      "the leader to tick 40 times",
      async () => await ticks(leader) >= killedAt + 40,
    );
    const back = await c.restart(follower);
    await c.converged();
    const images = [...leader.stderr, ...back.stderr].filter((l) =>
      /"snapshot_(taken|installing|installed)"/.test(l)
    );
    assert.deepEqual(images, [], "the entries it lacked were still in the leader's log");
    // Held, not stopped: once the follower has them, compaction goes on.
    await enqueueEach(leader.url, "tail", 200, 250);
    await waitFor(
      "the leader to compact",
      async () => (await c.status(leader)).snapshotIndex >= 200,
      10_000,
    );
    await c.converged();
    const depth = await call(`${back.url}/v1/queues?consistency=local`, "GET");
    assert.equal(depth.body.queues[0].ready, 250);
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: an image taken on request or for a new node cuts no follower off the log", async () => {
  const { c, leader, follower } = await compactingCluster(1000, "img");
  try {
    await c.kill(follower);
    await enqueueEach(leader.url, "img", 10, 60);
    const taken = await call(`${leader.url}/admin/snapshot`, "POST");
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    assert.ok(
      taken.body.snapshotIndex >= 60,
      `the image holds every job (${taken.body.snapshotIndex})`,
    );
    const s = await c.status(leader);
    const held = s.members.find((m: { id: string }) => m.id === follower.id);
    assert.ok(
      s.snapshotIndex <= held.matchIndex,
      "the log was compacted only as far as the follower that is down has it",
    );
    assert.equal(s.imageIndex, taken.body.snapshotIndex, "the image is kept past the log's start");
    const n4 = await c.join("n4");
    await c.waitForVoters(4);
    assert.ok(n4.stderr.some((l) => l.includes('"snapshot_installed"')), "n4 installed an image");
    const back = await c.restart(follower);
    await c.converged();
    assert.deepEqual(
      back.stderr.filter((l) => /"snapshot_(installing|installed)"/.test(l)),
      [],
      "the entries it lacked were still in the leader's log",
    );
    for (const n of [back, n4]) {
      const depth = await call(`${n.url}/v1/queues?consistency=local`, "GET");
      assert.equal(depth.body.queues[0].ready, 60);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: a follower ten compaction intervals behind no longer holds the log", async () => {
  // The limit of the catch-up tail: a follower stopped (still heard from lately, so it holds
  // compaction) while 150 entries commit without it, 10 per interval.
  const { c, leader, follower } = await compactingCluster(10, "cap");
  try {
    follower.child.kill("SIGSTOP");
    try {
      await enqueueEach(leader.url, "cap", 10, 160);
      const s = await waitFor("the leader to compact past the stopped follower", async () => {
        const s = await c.status(leader);
        const held = s.members.find((m: { id: string }) => m.id === follower.id).matchIndex;
        return s.snapshotIndex > held && s.snapshotIndex >= s.appliedIndex - 110 && s;
      }, 10_000);
      assert.ok(s.snapshotIndex < s.appliedIndex - 90, "ten intervals are kept for it");
    } finally {
      follower.child.kill("SIGCONT");
    }
    // (It may still find its entries: those already sent wait in its socket while it is stopped.)
    await c.converged();
    const depth = await call(`${follower.url}/v1/queues?consistency=local`, "GET");
    assert.equal(depth.body.queues[0].ready, 160);
  } finally {
    await c.stop();
  }
});
