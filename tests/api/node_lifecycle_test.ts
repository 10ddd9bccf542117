// A node's life: health and status, auth, snapshots, kill -9 and restart, refusals at start-up.

import assert from "node:assert/strict";
import { call, freePort, startNode, startReadyNode, waitFor } from "../helpers/node_process.ts";

Deno.test("lifecycle: healthz, readyz, status and a snapshot on a one-node cluster", async () => {
  const node = await startReadyNode();
  try {
    const u = node.url;
    assert.deepEqual((await call(`${u}/healthz`, "GET")).body, { status: "ok" });
    assert.equal((await call(`${u}/readyz`, "GET")).status, 200);
    for (let i = 0; i < 5; i++) await call(`${u}/v1/queues/s/jobs`, "POST", { payload: i });
    const status = (await call(`${u}/admin/status`, "GET")).body;
    assert.equal(status.role, "leader");
    assert.equal(status.leader.id, status.id);
    assert.equal(status.leader.url, u);
    assert.equal(status.members.length, 1);
    assert.deepEqual(
      Object.keys(status.members[0]).sort(),
      ["catchUp", "clockOffsetMs", "id", "lagEntries", "matchIndex", "reachable", "url", "voter"],
    );
    assert.ok(status.appliedIndex >= 5 && status.commitIndex === status.appliedIndex);
    assert.equal(status.imageIndex, null, "no image until one is asked for");
    const snap = (await call(`${u}/admin/snapshot`, "POST")).body;
    assert.equal(snap.snapshotIndex, snap.appliedIndex);
    const after = (await call(`${u}/admin/status`, "GET")).body;
    assert.equal(after.snapshotIndex, snap.snapshotIndex, "alone, it compacts up to the image");
    assert.equal(after.imageIndex, snap.snapshotIndex);
    const metrics = await (await fetch(`${u}/metrics`)).text();
    assert.match(metrics, new RegExp(`^raftq_image_index ${snap.snapshotIndex}$`, "m"));
    // The queue still works after compaction.
    assert.equal((await call(`${u}/v1/queues/s/jobs`, "POST", { payload: 9 })).status, 201);
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: with --token every route but /healthz needs the bearer token", async () => {
  const node = await startReadyNode({ env: { RAFTQ_TOKEN: "s3cret-token" } });
  try {
    const u = node.url;
    assert.equal((await call(`${u}/healthz`, "GET")).status, 200);
    const guarded = [
      ["GET", "/v1/queues"],
      ["POST", "/v1/queues/q/jobs"],
      ["GET", "/admin/status"],
      ["GET", "/readyz"],
    ];
    for (const [method, path] of guarded) {
      const body = method === "POST" ? { payload: 1 } : undefined;
      const r = await call(`${u}${path}`, method, body);
      assert.equal(r.status, 401, path);
      assert.equal(r.body.error.code, "unauthorized");
      const wrong = await call(`${u}${path}`, method, body, { authorization: "Bearer nope" });
      assert.equal(wrong.status, 401, path);
    }
    const ok = await call(`${u}/v1/queues/q/jobs`, "POST", { payload: 1 }, {
      authorization: "Bearer s3cret-token",
    });
    assert.equal(ok.status, 201);
    assert.ok(!node.stderr.join("\n").includes("s3cret-token"), "the token never reaches the logs");
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: kill -9 and restart keeps every acknowledged job and its state", async () => {
  let node = await startReadyNode();
  const dataDir = node.dataDir;
  const port = node.port;
  try {
    const acked: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await call(`${node.url}/v1/queues/dur/jobs`, "POST", { payload: { i } });
      assert.equal(r.status, 201);
      acked.push(r.body.id);
    }
    const claim = await call(`${node.url}/v1/queues/dur/claim`, "POST", { worker: "w", max: 10 });
    for (const job of claim.body.jobs.slice(0, 5)) {
      await call(`${node.url}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease });
    }
    const before = (await call(`${node.url}/v1/queues`, "GET")).body;
    // A write in flight when the kill lands may or may not survive; acknowledged ones must.
    void call(`${node.url}/v1/queues/dur/jobs`, "POST", { payload: "in-flight" }).catch(() => {});
    assert.equal(await node.kill("SIGKILL"), 137);
    node = await startReadyNode({ dataDir, port });
    for (const id of acked) {
      const r = await call(`${node.url}/v1/jobs/${id}`, "GET");
      assert.equal(r.status, 200, `job ${id} survived`);
    }
    const after = (await call(`${node.url}/v1/queues`, "GET")).body;
    const dur = (s: typeof before) => s.queues.find((q: { name: string }) => q.name === "dur");
    assert.equal(dur(after).done, dur(before).done);
    assert.equal(dur(after).leased, dur(before).leased);
    assert.ok(dur(after).ready >= dur(before).ready);
    // The leases handed out before the crash still fence after it.
    const stale = claim.body.jobs[0];
    const r = await call(`${node.url}/v1/jobs/${stale.id}/ack`, "POST", { lease: stale.lease });
    assert.equal(r.status, 200, "ack of an already-done job with its own lease is idempotent");
  } finally {
    await node.kill();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: SIGTERM shuts down cleanly with exit code 0", async () => {
  const node = await startReadyNode();
  try {
    assert.equal(await node.kill("SIGTERM"), 0);
    await waitFor(
      "the shutdown log line",
      () => node.stderr.some((l) => l.includes('"node_stopped"')),
    );
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: a second node on the same data directory exits 2 naming the holder", async () => {
  const first = await startReadyNode();
  try {
    const second = await startNode({ dataDir: first.dataDir });
    assert.equal(await second.exited(), 2);
    await waitFor("stderr", () => second.stderr.length > 0);
    assert.equal(second.stderr.length, 1, second.stderr.join("\n"));
    assert.equal(
      second.stderr[0],
      `raftq: data directory ${first.dataDir} is in use by pid ${first.child.pid}`,
    );
  } finally {
    await first.kill();
    await Deno.remove(first.dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: a port already in use exits 2 with one line", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (blocker.addr as Deno.NetAddr).port;
  const node = await startNode({ port });
  try {
    assert.equal(await node.exited(), 2);
    await waitFor("stderr", () => node.stderr.length > 0);
    assert.match(
      node.stderr.join("\n"),
      /^raftq: cannot listen on 127\.0\.0\.1:\d+: the port is in use/,
    );
    assert.equal(node.stderr.length, 1);
  } finally {
    blocker.close();
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: logs are JSON lines by default and human lines with --log-format text", async () => {
  const json = await startReadyNode();
  const text = await startReadyNode({ args: ["--log-format", "text"] });
  try {
    await waitFor("log lines", () => json.stderr.length > 0 && text.stderr.length > 0);
    const started = JSON.parse(json.stderr.find((l) => l.includes("node_started"))!);
    assert.equal(started.level, "info");
    assert.equal(typeof started.node, "string");
    assert.match(started.ts, /^\d{4}-\d{2}-\d{2}T/);
    const role = json.stderr.map((l) => JSON.parse(l)).find((r) => r.event === "role_changed");
    assert.equal(role.role, "leader");
    assert.ok(typeof role.term === "number");
    assert.ok(
      text.stderr.some((l) => /^\d{4}-\d{2}-\d{2}T\S+ INFO {2}node_started node="[^"]+" /.test(l)),
    );
  } finally {
    for (const n of [json, text]) {
      await n.kill();
      await Deno.remove(n.dataDir, { recursive: true });
    }
  }
});

Deno.test("lifecycle: an unreachable --join URL is one human line, and the node keeps trying", async () => {
  const dead = `http://127.0.0.1:${freePort()}`;
  const node = await startNode({ args: ["--join", dead] });
  try {
    const line = await waitFor(
      "the hint",
      () => node.stderr.find((l) => l.startsWith("raftq: cannot reach any --join URL yet")),
    );
    assert.match(line, /still retrying: check the URLs and that a member is running$/);
    assert.ok(node.alive, "it keeps retrying");
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});

Deno.test("lifecycle: --heartbeat-ms and --election-ms are the Raft timing the node runs with", async () => {
  const node = await startReadyNode({ args: ["--heartbeat-ms", "25", "--election-ms", "400"] });
  try {
    const status = (await call(`${node.url}/admin/status`, "GET")).body;
    assert.deepEqual(status.timing, { heartbeatMs: 25, electionMs: 400 });
    assert.equal(status.role, "leader", "a one-node cluster elects itself with them");
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});
