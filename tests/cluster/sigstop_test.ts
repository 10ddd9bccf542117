// Nodes paused by SIGSTOP: a leader replaced and its leases fenced; a paused node's late ticks seen.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";
import { startNode } from "../helpers/node_process.ts";

Deno.test("cluster: a SIGSTOPped leader is replaced; an ack across it with a re-issued lease is refused", async () => {
  const c = await TestCluster.start(3);
  try {
    const old = await c.leader();
    const e = await call(`${old.url}/v1/queues/fence/jobs`, "POST", { payload: "once" });
    const first =
      (await call(`${old.url}/v1/queues/fence/claim`, "POST", { worker: "w1", leaseMs: 1000 }))
        .body.jobs[0];
    assert.equal(first.id, e.body.id);
    old.child.kill("SIGSTOP");
    try {
      const rest = c.live().filter((n) => n !== old);
      const next = await c.leader(rest, 10_000);
      assert.notEqual(next.id, old.id);
      // After the lease ran out (by the new leader's clock), another worker gets the job.
      const second = await waitFor("the job to be claimable again", async () => {
        const r = await call(`${next.url}/v1/queues/fence/claim`, "POST", {
          worker: "w2",
          leaseMs: 30_000,
        });
        return r.body.jobs?.[0];
      }, 10_000);
      assert.equal(second.id, first.id);
      assert.ok(Number(second.lease) > Number(first.lease));
    } finally {
      old.child.kill("SIGCONT");
    }
    await waitFor(
      "the old leader to step down",
      async () => (await c.status(old))?.role === "follower",
      10_000,
    );
    const late = await call(`${old.url}/v1/jobs/${first.id}/ack`, "POST", { lease: first.lease });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, "lease_mismatch");
    const job = await call(`${old.url}/v1/jobs/${first.id}`, "GET");
    assert.equal(job.body.state, "leased", "the stale ack changed nothing");
    const leader = await c.leader();
    const jobs = await call(`${leader.url}/v1/queues/fence/claim`, "POST", { worker: "w3" });
    assert.deepEqual(jobs.body.jobs, [], "no one else holds it");
  } finally {
    await c.stop();
  }
});

Deno.test("node: a held event loop shows in /admin/status, /metrics and one log line", async () => {
  const node = await startNode();
  try {
    // Stopped as soon as it started, before its first tick (a hold there once went unseen).
    await waitFor("the node to start", () => node.stderr.some((l) => l.includes("node_started")));
    node.child.kill("SIGSTOP");
    try {
      // The stimulus, not a synchronisation: the node's ticks fall due while it cannot run.
      await new Promise((resolve) => setTimeout(resolve, 800));
    } finally {
      node.child.kill("SIGCONT");
    }
    const status = await waitFor("the late tick in the status", async () => {
      const s = (await call(`${node.url}/admin/status`, "GET")).body;
      return s.eventLoop.delayMaxMs >= 600 && s;
    }, 10_000);
    assert.ok(status.eventLoop.delayMaxMs < 5_000, `${status.eventLoop.delayMaxMs} ms`);
    const line = await waitFor(
      "the log line",
      () => node.stderr.find((l) => l.includes('"event_loop_delayed"')),
      10_000,
    );
    assert.ok(JSON.parse(line).delayMs >= 600, line);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    const series = (name: string) =>
      Number(new RegExp(`^raftq_event_loop_delay_seconds${name} (\\d+)$`, "m").exec(metrics)![1]);
    assert.ok(series("_count") > series('_bucket\\{le="0.5"\\}'), "one tick over 0.5 s late");
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});
