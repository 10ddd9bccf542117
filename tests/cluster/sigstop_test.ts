// A leader paused past its election timeout and lease time: it steps down, its leases are fenced.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";

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
