// A cluster's edges: forwards to a vanished leader, forged forward headers, transfer bodies,
// and what a stopping leader answers for writes in flight.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";
import { startNode, startReadyNode } from "../helpers/node_process.ts";
import { TcpProxy } from "../helpers/proxy.ts";

Deno.test("cluster: a write through a follower whose leader vanished is answered within the timeout", async () => {
  const c = await TestCluster.start(1);
  const leader = c.node("n1");
  const proxy = new TcpProxy(leader.port);
  try {
    // n2 reaches the leader (its link and its forwards) only through the proxy.
    const follower = await c.join("n2", {
      env: { RAFTQ_TEST_PEER_URLS: JSON.stringify({ n1: proxy.url }) },
    });
    await c.join("n3");
    await c.waitForVoters(3);
    const before = await call(`${follower.url}/v1/queues/f/jobs`, "POST", { payload: 1 });
    assert.equal(before.status, 201, JSON.stringify(before.body));
    proxy.blackhole();
    const started = Date.now();
    // (Bounded here too, so a forward that never ends fails the test rather than hanging it.)
    // An admin write takes the HTTP forward (queue writes go over the peer link, which the
    // leader dialed directly and the proxy does not cut: see forwarding_test.ts and
    // proposals_test.ts).
    const res = await fetch(`${follower.url}/admin/snapshot`, {
      method: "POST",
      signal: AbortSignal.timeout(20_000),
    });
    const write = { status: res.status, body: await res.json() };
    const tookMs = Date.now() - started;
    assert.equal(write.status, 503, JSON.stringify(write.body));
    assert.equal(write.body.error.code, "outcome_unknown");
    assert.ok(tookMs < 13_000, `the forward was answered after ${tookMs} ms`);
    // A read is served on the follower at the leader's read index, asked over that same link.
    const read = await call(`${follower.url}/v1/queues`, "GET");
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.queues[0].ready, 1);
  } finally {
    proxy.close();
    await c.stop();
  }
});

Deno.test("cluster: only a member can mark a request forwarded; transfer refuses bad bodies", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const follower = c.live().find((n) => n !== leader)!;
    for (const forged of ["n9", `${leader.id} ${"0".repeat(64)}`]) {
      const r = await call(`${follower.url}/v1/queues/fw/jobs`, "POST", { payload: 1 }, {
        "x-raftq-forwarded-by": forged,
      });
      assert.equal(r.status, 201, `forged "${forged}": ${JSON.stringify(r.body)}`);
    }
    const term = (await c.status(leader)).term;
    const bad: [string, number][] = [
      ["{not json", 400],
      ["[1,2]", 400],
      ['"n2"', 400],
      ["null", 400],
      ['{"to": 5}', 400],
      ['{"to": "n2", "why": 1}', 400],
      [JSON.stringify({ to: "x".repeat(2 * 1024 * 1024) }), 413],
    ];
    for (const [body, status] of bad) {
      const r = await call(`${leader.url}/admin/transfer`, "POST", body);
      assert.equal(r.status, status, `${body.slice(0, 20)}: ${JSON.stringify(r.body)}`);
    }
    const s = await c.status(leader);
    assert.equal(s.role, "leader", "no bad body moved leadership");
    assert.equal(s.term, term);
    const moved = await call(`${leader.url}/admin/transfer`, "POST");
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.notEqual(moved.body.leader, leader.id);
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: a leader stopped with writes in flight answers them outcome_unknown", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const followers = c.live().filter((n) => n !== leader);
    for (const f of followers) f.child.kill("SIGSTOP");
    // These are appended to the leader's log but cannot commit.
    const writes = Array.from(
      { length: 5 },
      (_, i) => call(`${leader.url}/v1/queues/s/jobs`, "POST", { payload: i }),
    );
    await waitFor("the writes to be in the leader's log", async () => {
      const s = await c.status(leader);
      return s && s.lastLogIndex > s.commitIndex;
    });
    leader.child.kill("SIGTERM");
    const answers = await Promise.all(writes);
    for (const a of answers) {
      assert.equal(a.status, 503, JSON.stringify(a.body));
      assert.equal(a.body.error.code, "outcome_unknown", "a proposed write is never 'unavailable'");
    }
    for (const f of followers) f.child.kill("SIGCONT");
  } finally {
    await c.stop();
  }
});

async function mountTmpfs(dir: string, size: string): Promise<void> {
  const r = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(r.success, `mount: ${new TextDecoder().decode(r.stderr)}`);
}

/** Writes zeros to `path` until the disk refuses more. */
async function fillDisk(path: string): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true });
  try {
    const chunk = new Uint8Array(64 * 1024);
    for (;;) await f.write(chunk);
  } catch {
    // full
  } finally {
    f.close();
  }
}

Deno.test({
  name: "disk full: at start-up one line and exit 2; under load storage_failed and exit 1",
  ignore: Deno.uid() !== 0, // mounting a small tmpfs needs root (CI runs as root)
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "raftq-full-" });
    await mountTmpfs(root, "12m");
    try {
      const dataDir = `${root}/data`;
      let node = await startReadyNode({ dataDir });
      assert.equal(
        (await call(`${node.url}/v1/queues/d/jobs`, "POST", { payload: 1 })).status,
        201,
      );
      await node.kill();
      await fillDisk(`${root}/filler`);
      const refused = await startNode({ dataDir });
      assert.equal(await refused.exited(), 2);
      const lines = refused.stderr.filter((l) => l.trim() !== "");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], /^raftq: the disk holding .* is full/);
      await Deno.remove(`${root}/filler`);
      // Room to start, then the disk fills while the node writes.
      node = await startReadyNode({ dataDir });
      await fillDisk(`${root}/filler`);
      const big = "x".repeat(60_000);
      for (let i = 0; i < 200 && node.alive; i++) {
        await call(`${node.url}/v1/queues/d/jobs`, "POST", { payload: big }).catch(() => null);
      }
      assert.equal(await node.exited(), 1);
      const text = node.stderr.join("\n");
      assert.match(text, /"event":"storage_failed"/);
      assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
    } finally {
      await new Deno.Command("umount", { args: ["-l", root] }).output();
      await Deno.remove(root, { recursive: true });
    }
  },
});
