// A Worker drains a 3-node cluster while its leader is killed twice: every job once, none lost.

import assert from "node:assert/strict";
import { Client, Worker } from "../../src/client/mod.ts";
import { TestCluster, waitFor } from "../helpers/cluster.ts";

const total = 10_000;

Deno.test("cluster: a worker of 16 drains 10,000 jobs through two leader kills", async () => {
  const c = await TestCluster.start(3);
  let worker: Worker<number> | undefined;
  try {
    const client = new Client({ urls: c.nodes.map((n) => n.url) });
    for (let k = 0; k < total; k += 1000) {
      const jobs = Array.from({ length: 1000 }, (_, i) => ({ payload: k + i }));
      await client.enqueueBatch("drain", jobs);
    }
    const handled = new Map<string, number>(); // job id -> handler runs
    const completed = new Map<string, number>(); // job id -> acks that succeeded
    const w = new Worker<number>(client, "drain", (job) => {
      handled.set(job.id, (handled.get(job.id) ?? 0) + 1);
      return job.payload * 2;
    }, { concurrency: 16, leaseMs: 5_000, waitMs: 1_000 });
    worker = w;
    w.on("completed", (job) => completed.set(job.id, (completed.get(job.id) ?? 0) + 1));
    w.on("error", () => {}); // failovers: the worker retries, the test counts outcomes
    w.start();
    for (const at of [total / 3, (2 * total) / 3]) {
      await waitFor(`${at} completions`, () => completed.size >= at, 60_000);
      const leader = await c.leader();
      await c.kill(leader);
      await c.leader(c.live(), 15_000);
      await c.restart(leader);
    }
    await waitFor("every job completed", () => completed.size === total, 90_000);
    await w.stop();
    const twice = [...completed].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], "no job was completed twice");
    assert.ok([...handled.keys()].every((id) => completed.has(id)));
    await c.converged(30_000);
    const stats = await client.queues();
    assert.deepEqual(stats.find((q) => q.name === "drain"), {
      name: "drain",
      paused: false,
      ready: 0,
      delayed: 0,
      leased: 0,
      done: total,
      dead: 0,
      cancelled: 0,
      expired: 0,
      waiting: 0,
    });
    const redelivered = [...handled.values()].filter((n) => n > 1).length;
    console.log(
      `handled ${handled.size} jobs, ${redelivered} more than once; ${JSON.stringify(w.stats)}`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    await worker?.stop({ timeoutMs: 1_000 });
    await c.stop();
  }
});
