// A join under load with a backlog: the snapshot streams from a worker-made image, writes go on.

import assert from "node:assert/strict";
import { call, TestCluster } from "../helpers/cluster.ts";

const jobs = 50_000;

/** Enqueues `jobs` jobs in batches of 1,000 over 4 connections. */
async function fill(url: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs / 1000) {
      const b = next++;
      const batch = Array.from(
        { length: 1000 },
        (_, k) => ({ payload: { b, k, pad: "x".repeat(60) } }),
      );
      const r = await call(`${url}/v1/queues/big/batch`, "POST", { jobs: batch });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

Deno.test(`scale: a node joins a cluster holding ${jobs} jobs while writes go on, and none fails`, async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    await fill(leader.url);
    const snap = await call(`${leader.url}/admin/snapshot`, "POST");
    assert.equal(snap.status, 200, JSON.stringify(snap.body));
    let writing = true;
    const failures: string[] = [];
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const r = await call(`${leader.url}/v1/queues/live/jobs`, "POST", { payload: written })
          .catch((err) => ({ status: 0, body: String(err) }));
        if (r.status === 201) written++;
        else failures.push(`${r.status} ${JSON.stringify(r.body)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const seen = new Set<string>();
    // The leader's status shows the learner's catch-up while it lasts.
    const catchUps: { state: string; snapshotBytes: number | null; summary: string }[] = [];
    let joining = true;
    const sampler = (async () => {
      while (joining) {
        const s = await c.status(leader);
        const m = s?.members.find((m: { id: string }) => m.id === "n4");
        if (m?.catchUp) catchUps.push(m.catchUp);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const late = await c.join("n4");
    await c.waitForVoters(4, 120_000).catch((err) => {
      throw new Error(`${err}\n${c.dump(30)}`);
    });
    joining = false;
    writing = false;
    await Promise.all([writer, sampler]);
    assert.ok(
      catchUps.some((u) =>
        u.state === "snapshot" && (u.snapshotBytes ?? 0) > 0 &&
        /^snapshot \d+% of \d+ MiB/.test(u.summary)
      ),
      `the status showed the snapshot being sent: ${JSON.stringify(catchUps.slice(-3))}`,
    );
    for (const line of leader.stderr) if (line.includes('"snapshot_taken"')) seen.add("taken");
    assert.deepEqual(failures, [], "no write failed during the join");
    assert.ok(written > 10, `writes went on (${written})`);
    assert.ok(seen.has("taken") && late.stderr.some((l) => l.includes('"snapshot_installed"')));
    await c.converged(30_000);
    const depth = await call(`${late.url}/v1/queues?consistency=local`, "GET");
    const byName = (name: string) =>
      depth.body.queues.find((q: { name: string }) => q.name === name);
    assert.equal(byName("big").ready, jobs, "the image carried the backlog");
    assert.equal(byName("live").ready, written, "and the log every write made during the join");
  } finally {
    await c.stop();
  }
});
