// Backup while writes go on, restore into a new cluster, and recovery after losing a majority.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";
import { runRaftq, startReadyNode } from "../helpers/node_process.ts";

Deno.test("backup: under load, restored, holds every job acknowledged before it began", async () => {
  const c = await TestCluster.start(3);
  const dir = await Deno.makeTempDir({ prefix: "raftq-backup-" });
  let restored: Awaited<ReturnType<typeof startReadyNode>> | null = null;
  try {
    const leader = await c.leader();
    const follower = c.live().find((n) => n !== leader)!;
    const acked: { id: string; at: number }[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const r = await call(`${leader.url}/v1/queues/bk/jobs`, "POST", { payload: { i } });
        if (r.status === 201) acked.push({ id: r.body.id, at: Date.now() });
      }
    })();
    await waitFor("some jobs", () => acked.length >= 50);
    // A batch of plain jobs: a ready run (src/queue/ready_runs.ts), which the backup carries.
    const jobs = Array.from({ length: 30 }, (_, k) => ({ payload: { k } }));
    const batch = await call(`${leader.url}/v1/queues/bk/batch`, "POST", { jobs });
    assert.equal(batch.status, 201);
    // A claimed and an acked job keep their states through the backup.
    const claim = await call(`${leader.url}/v1/queues/bk/claim`, "POST", { worker: "w", max: 2 });
    const [done, leased] = claim.body.jobs;
    await call(`${leader.url}/v1/jobs/${done.id}/ack`, "POST", { lease: done.lease });
    const began = Date.now();
    const file = `${dir}/cluster.backup`;
    // Through a follower: the command finds the leader.
    const b = await runRaftq(["backup", "--url", follower.url, "--out", file]);
    writing = false;
    await writer;
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^backup of cluster .* at applied index \d+ written to/);
    const before = acked.filter((a) => a.at < began);
    assert.ok(acked.length > before.length, "writes went on during the backup");
    const r = await runRaftq(["restore", "--from", file, "--data", `${dir}/restored`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^restored \d+ jobs at applied index \d+ into/);
    restored = await startReadyNode({ dataDir: `${dir}/restored` });
    const s = (await call(`${restored.url}/admin/status`, "GET")).body;
    assert.equal(s.members.length, 1, "a one-node cluster");
    assert.notEqual(s.clusterId, (await c.status(leader)).clusterId, "with a new cluster id");
    for (const { id } of before) {
      const j = await call(`${restored.url}/v1/jobs/${id}`, "GET");
      assert.equal(j.status, 200, `job ${id}, acknowledged before the backup, is missing`);
    }
    for (const [k, id] of (batch.body.ids as string[]).entries()) {
      const j = await call(`${restored.url}/v1/jobs/${id}`, "GET");
      assert.deepEqual([j.body.state, j.body.payload], ["ready", { k }], `batch job ${id}`);
    }
    const q = (await call(`${restored.url}/v1/queues/bk`, "GET")).body;
    const held = ["ready", "delayed", "leased", "done", "dead", "cancelled", "expired", "waiting"]
      .reduce((n, state) => n + q[state], 0);
    assert.equal(Number(/^restored (\d+) jobs/.exec(r.stdout)?.[1]), held, "every job counted");
    assert.equal((await call(`${restored.url}/v1/jobs/${done.id}`, "GET")).body.state, "done");
    assert.equal((await call(`${restored.url}/v1/jobs/${leased.id}`, "GET")).body.state, "leased");
    const more = await call(`${restored.url}/v1/queues/bk/jobs`, "POST", { payload: "after" });
    assert.equal(more.status, 201, "the restored cluster takes writes");
  } finally {
    await restored?.kill();
    await c.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restore: a truncated, damaged or foreign file is refused with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raftq-restore-" });
  try {
    const node = await startReadyNode();
    let file = `${dir}/good.backup`;
    try {
      await call(`${node.url}/v1/queues/q/jobs`, "POST", { payload: 1 });
      const b = await runRaftq(["backup", "--url", node.url, "--out", file]);
      assert.equal(b.code, 0, b.stderr);
      // A path that cannot be written is refused before the node makes an image.
      const nowhere = await runRaftq(["backup", "--url", node.url, "--out", `${dir}/no/x.backup`]);
      assert.equal(nowhere.code, 2, nowhere.stderr);
      assert.match(nowhere.stderr, /^raftq: backup cannot write .*no\/x\.backup\.partial: /);
      assert.equal(nowhere.stderr.trimEnd().split("\n").length, 1, nowhere.stderr);
    } finally {
      await node.kill();
      await Deno.remove(node.dataDir, { recursive: true });
    }
    const good = await Deno.readFile(file);
    const cases: [string, Uint8Array, RegExp][] = [
      ["truncated", good.subarray(0, good.length - 100), /truncated/],
      ["damaged", good.map((b, i) => (i === Math.floor(good.length / 2) ? b ^ 1 : b)), /checksum/],
      [
        "foreign",
        new TextEncoder().encode("SQLite format 3\u0000 and more\n"),
        /not a raftq backup/,
      ],
    ];
    for (const [what, bytes, reason] of cases) {
      file = `${dir}/${what}.backup`;
      await Deno.writeFile(file, bytes);
      const r = await runRaftq(["restore", "--from", file, "--data", `${dir}/${what}`]);
      assert.equal(r.code, 2, `${what}: ${r.stdout} ${r.stderr}`);
      assert.equal(r.stderr.split("\n").length, 1, r.stderr);
      assert.match(r.stderr, reason);
      await assert.rejects(Deno.stat(`${dir}/${what}`), "nothing is left behind");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recover: a survivor of a lost majority becomes a one-node cluster with every job", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push((await call(`${leader.url}/v1/queues/rc/jobs`, "POST", { payload: i })).body.id);
    }
    await c.converged();
    const survivor = c.live().find((n) => n !== leader)!;
    const busy = await runRaftq(["recover", "--data", survivor.dataDir]);
    assert.equal(busy.code, 2, "refused while a node holds the directory");
    assert.match(busy.stderr, /in use/);
    for (const n of c.live()) await c.kill(n);
    const r = await runRaftq(["recover", "--data", survivor.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`node ${survivor.id} is now the only voter`));
    const back = await c.restart(survivor);
    await waitFor(
      "the survivor to lead alone",
      async () => (await c.status(back))?.role === "leader",
    );
    const s = await c.status(back);
    assert.deepEqual(s.members.map((m: { id: string }) => m.id), [survivor.id]);
    for (const id of ids) {
      assert.equal((await call(`${back.url}/v1/jobs/${id}`, "GET")).status, 200, `job ${id}`);
    }
    assert.equal(
      (await call(`${back.url}/v1/queues/rc/jobs`, "POST", { payload: "x" })).status,
      201,
    );
  } finally {
    await c.stop();
  }
});
