// Queue control in a 3-node cluster: pauses and unique keys are replicated state: they outlive a leader.

import assert from "node:assert/strict";
import { Client } from "../../src/client/mod.ts";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";

Deno.test("cluster: a pause and a uniqueKey hold on every node across a leader kill", async () => {
  const c = await TestCluster.start(3);
  try {
    const client = new Client({ urls: c.nodes.map((n) => n.url) });
    await client.enqueue("held", 1);
    await client.pause("held");
    const unique = await client.enqueue("uniq", 1, { uniqueKey: "only-one" });
    const old = await c.leader();
    await c.kill(old);
    await c.leader(c.live(), 15_000);
    assert.deepEqual(await client.claim("held", { worker: "w" }), [], "the new leader holds it");
    const again = await client.enqueue("uniq", 2, { uniqueKey: "only-one" });
    assert.deepEqual([again.id, again.deduplicated], [unique.id, true], "the key held too");
    await c.converged();
    for (const n of c.live()) {
      const view = await call(`${n.url}/v1/queues/held?consistency=local`, "GET");
      assert.equal(view.body.paused, true, `${n.id} knows the queue is paused`);
    }
    await client.resume("held");
    assert.equal((await client.claim("held", { worker: "w" })).length, 1);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: a schedule every second fires each slot at most once across two leader kills", async () => {
  const c = await TestCluster.start(3);
  try {
    const client = new Client({ urls: c.nodes.map((n) => n.url) });
    const leader = await c.leader();
    const put = await call(`${leader.url}/v1/schedules/s`, "PUT", {
      queue: "ticks",
      everyMs: 1_000,
      catchUp: "last",
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const fired = async () => (await client.jobs("ticks", { limit: 1000 })).jobs;
    for (let kill = 0; kill < 2; kill++) {
      const before = (await fired()).length;
      await waitFor("a firing before the kill", async () => (await fired()).length >= before + 2);
      const old = await c.leader();
      await c.kill(old);
      await c.leader(c.live(), 15_000);
      await c.restart(old);
    }
    const after = (await fired()).length;
    await waitFor("firings after the kills", async () => (await fired()).length >= after + 2);
    await call(`${(await c.leader()).url}/v1/schedules/s`, "DELETE");
    const keys = (await fired()).map((j) => j.idempotencyKey!);
    assert.equal(new Set(keys).size, keys.length, `a slot fired twice: ${keys.join(" ")}`);
    for (const key of keys) assert.match(key, /^schedule:s:\d+000$/);
    assert.ok(keys.length >= 6, `${keys.length} firings`);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    await c.stop();
  }
});

Deno.test("cluster: a purge of 2,500 jobs goes in entries of at most 1,000, replicated", async () => {
  const c = await TestCluster.start(3);
  try {
    const client = new Client({ urls: c.nodes.map((n) => n.url) });
    for (let k = 0; k < 5; k++) {
      const jobs = Array.from({ length: 500 }, (_, i) => ({ payload: i, ttlMs: 1 }));
      await client.enqueueBatch("gone", jobs, { timeoutMs: 30_000 });
    }
    await waitFor(
      "every job to expire",
      async () => (await client.queue("gone")).expired === 2_500,
    );
    const leader = await c.leader();
    const before = (await c.status(leader)).appliedIndex;
    const purge = call(`${leader.url}/v1/queues/gone/jobs?state=expired`, "DELETE");
    const beside = await client.enqueue("other", "still served");
    assert.equal(beside.state, "ready", "writes go on while the purge runs");
    assert.deepEqual((await purge).body, { purged: 2_500 });
    const entries = (await c.status(leader)).appliedIndex - before;
    assert.ok(entries >= 3, `${entries} entries`);
    await c.converged();
    for (const n of c.live()) {
      const view = await call(`${n.url}/v1/queues/gone?consistency=local`, "GET");
      assert.equal(view.body.expired, 0, `${n.id} purged too`);
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    await c.stop();
  }
});
