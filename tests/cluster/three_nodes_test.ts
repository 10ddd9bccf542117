// Three nodes: join by URL, lose the leader to kill -9, elect a new one fast, lose nothing.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";

Deno.test("cluster: 3 nodes survive kill -9 of the leader; the old leader rejoins and catches up", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const follower = c.live().find((n) => n !== leader)!;
    // Writes through a follower are forwarded to the leader.
    const acked: string[] = [];
    for (let i = 0; i < 30; i++) {
      const via = i % 2 ? leader : follower;
      const r = await call(`${via.url}/v1/queues/jobs/jobs`, "POST", { payload: { i } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.headers.get("x-raftq-leader"), leader.id);
      acked.push(r.body.id);
    }
    await c.kill(leader);
    const killedAt = Date.now();
    const survivors = c.live();
    const next = await c.leader(survivors, 10_000);
    const electedMs = Date.now() - killedAt;
    assert.notEqual(next.id, leader.id);
    assert.ok(electedMs < 3_000, `a new leader took ${electedMs} ms`);
    for (const id of acked) {
      const r = await call(`${survivors[0].url}/v1/jobs/${id}`, "GET");
      assert.equal(r.status, 200, `acknowledged job ${id} was lost`);
    }
    const after = await call(`${next.url}/v1/queues/jobs/jobs`, "POST", { payload: "after" });
    assert.equal(after.status, 201);
    const back = await c.restart(leader);
    await waitFor("the old leader to catch up", async () => {
      const s = await c.status(back);
      const l = await c.status(next);
      return s && l && s.role === "follower" && s.appliedIndex === l.appliedIndex;
    }, 15_000);
    const local = await call(`${back.url}/v1/jobs/${after.body.id}?consistency=local`, "GET");
    assert.equal(local.status, 200, "the restarted node holds the write made while it was down");
  } finally {
    await c.stop();
  }
});
