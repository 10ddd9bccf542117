// Five nodes: two down keeps writes going; three down refuses them (never a false 201); recovery.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";

Deno.test("cluster: 5 nodes accept writes with 2 down, refuse them with 3 down, recover with 1 back", async () => {
  const c = await TestCluster.start(5);
  try {
    const leader = await c.leader();
    const others = c.live().filter((n) => n !== leader);
    // Two followers die at once: a majority (3 of 5) remains.
    await Promise.all([c.kill(others[0]), c.kill(others[1])]);
    for (let i = 0; i < 10; i++) {
      const r = await call(`${leader.url}/v1/queues/q/jobs`, "POST", { payload: i });
      assert.equal(r.status, 201);
    }
    // A third dies: no majority. Writes must fail, and fail honestly.
    await c.kill(others[2]);
    const survivors = c.live();
    const outcomes = new Set<string>();
    const deadline = Date.now() + 4_000;
    while (Date.now() < deadline) {
      for (const n of survivors) {
        const r = await call(`${n.url}/v1/queues/q/jobs`, "POST", {
          payload: "no-quorum",
          idempotencyKey: "nq",
        });
        assert.notEqual(r.status, 201, "a write was acknowledged without a majority");
        assert.notEqual(r.status, 200);
        assert.equal(r.status, 503, JSON.stringify(r.body));
        outcomes.add(r.body.error.code);
      }
    }
    // Check-quorum has deposed the old leader by now: plain no_leader answers.
    const last = await call(`${survivors[0].url}/v1/queues/q/jobs`, "POST", { payload: 1 });
    assert.equal(last.body.error.code, "no_leader");
    assert.ok(last.headers.get("retry-after"));
    // One node comes back: a majority again.
    await c.restart(others[2]);
    await waitFor("writes to succeed again", async () => {
      const r = await call(`${survivors[0].url}/v1/queues/q/jobs`, "POST", {
        payload: "back",
        idempotencyKey: "back",
      });
      return r.status === 201 || r.status === 200;
    }, 15_000);
    const queues = await call(`${survivors[0].url}/v1/queues`, "GET");
    const q = queues.body.queues.find((x: { name: string }) => x.name === "q");
    assert.ok(q.ready >= 11, `all acknowledged writes are there (${q.ready})`);
    assert.ok([...outcomes].every((o) => o === "no_leader" || o === "outcome_unknown"));
  } finally {
    await c.stop();
  }
});
