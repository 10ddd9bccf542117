// Groups and limits over the API, in process: the group fields and listings, the limits in the
// queue's config, and long polls that a limit holds back until it frees.

import assert from "node:assert/strict";
import { withInProcessNode as withNode } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/node_process.ts";

Deno.test("api: a job's group shows on it, in the queue's groups and as a listing filter", () =>
  withNode(async ({ url: u, call }) => {
    const one = await call(`${u}/v1/queues/q/jobs`, "POST", { payload: 1, group: "tenant-a" });
    assert.equal(one.status, 201);
    const jobs = [{ payload: 2, group: "tenant-b" }, { payload: 3 }, {
      payload: 4,
      group: "tenant-a",
    }];
    assert.equal((await call(`${u}/v1/queues/q/batch`, "POST", { jobs })).status, 201);
    assert.equal((await call(`${u}/v1/jobs/${one.body.id}`, "GET")).body.group, "tenant-a");
    const groups = await call(`${u}/v1/queues/q/groups?limit=1`, "GET");
    assert.deepEqual(groups.body, {
      groups: [{ group: "tenant-a", ready: 2, leased: 0 }],
      next: "tenant-a",
    });
    const rest = await call(`${u}/v1/queues/q/groups?cursor=tenant-a`, "GET");
    assert.deepEqual(rest.body, {
      groups: [{ group: "tenant-b", ready: 1, leased: 0 }],
      next: null,
    });
    const listed = await call(`${u}/v1/queues/q/jobs?group=tenant-a`, "GET");
    assert.deepEqual(listed.body.jobs.map((j: { payload: number }) => j.payload), [4, 1]);
    const ready = await call(`${u}/v1/queues/q/jobs?group=tenant-b&state=ready`, "GET");
    assert.equal(ready.body.jobs.length, 1);
  }));

Deno.test("api: the limits are the queue's config; a claim they hold back waits for them", () =>
  withNode(async ({ url: u, call }) => {
    const config = { concurrency: 1, groupConcurrency: 1, rateLimit: { max: 100, perMs: 1000 } };
    const put = await call(`${u}/v1/queues/q/config`, "PUT", config);
    assert.deepEqual(put.body, config);
    assert.deepEqual((await call(`${u}/v1/queues/q`, "GET")).body.config, config);
    const jobs = [{ payload: 1 }, { payload: 2 }];
    assert.equal((await call(`${u}/v1/queues/q/batch`, "POST", { jobs })).status, 201);
    const first = await call(`${u}/v1/queues/q/claim`, "POST", { worker: "w", max: 5 });
    assert.equal(first.body.jobs.length, 1, "concurrency 1");
    const order: string[] = [];
    const waiting = call(`${u}/v1/queues/q/claim`, "POST", { worker: "w", waitMs: 10_000 })
      .then((r) => {
        order.push("claim");
        return r;
      });
    const [job] = first.body.jobs;
    const ack = await call(`${u}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease });
    order.push("ack");
    assert.equal(ack.status, 200);
    const second = await waiting;
    assert.deepEqual(second.body.jobs.map((j: { payload: number }) => j.payload), [2]);
    assert.deepEqual(order, ["ack", "claim"], "the claim waited for the lease to end");
  }));

Deno.test("api: a claim held back by the rate window gets a job when the next window opens", () =>
  withNode(async ({ url: u, call }) => {
    await call(`${u}/v1/queues/q/config`, "PUT", { rateLimit: { max: 1, perMs: 500 } });
    const jobs = [{ payload: 1 }, { payload: 2 }, { payload: 3 }];
    await call(`${u}/v1/queues/q/batch`, "POST", { jobs });
    const first = await call(`${u}/v1/queues/q/claim`, "POST", { worker: "w", max: 3 });
    assert.equal(first.body.jobs.length, 1, "one a window");
    const next = await call(`${u}/v1/queues/q/claim`, "POST", {
      worker: "w",
      max: 3,
      waitMs: 5_000,
    });
    assert.equal(next.body.jobs.length, 1, "the long poll waited for the next window");
    const stats = (await call(`${u}/v1/queues/q`, "GET")).body;
    assert.equal(stats.leased, 2);
  }));

Deno.test("api: a raised groupConcurrency frees the groups of 1,200 leased jobs (1,000 an entry)", () =>
  withNode(async ({ url: u, call }) => {
    await call(`${u}/v1/queues/q/config`, "PUT", { groupConcurrency: 1 });
    const jobs = Array.from({ length: 2400 }, (_, k) => ({ payload: k, group: `g${k % 1200}` }));
    for (let at = 0; at < jobs.length; at += 800) {
      const batch = await call(`${u}/v1/queues/q/batch`, "POST", {
        jobs: jobs.slice(at, at + 800),
      });
      assert.equal(batch.status, 201);
    }
    const claimAll = async (waitMs: number) => {
      let n = 0;
      for (;;) {
        const r = await call(`${u}/v1/queues/q/claim`, "POST", { worker: "w", max: 100, waitMs });
        if (r.body.jobs.length === 0) return n;
        n += r.body.jobs.length;
      }
    };
    assert.equal(await claimAll(0), 1200, "one job of each group");
    await call(`${u}/v1/queues/q/config`, "PUT", { groupConcurrency: 2 });
    // The groups of the first 1,000 leased jobs are free at once, the rest after the next tick,
    // which wakes the long poll.
    assert.equal(await claimAll(2_000), 1200, "the second job of each group");
  }));

Deno.test("api: 20 claims waiting on a queue, a job enqueued: one claim is proposed for it", () =>
  withNode(async ({ url: u, call, waiters, commandTypes }) => {
    const claims = Array.from(
      { length: 20 },
      (_, k) => call(`${u}/v1/queues/q/claim`, "POST", { worker: `w${k}`, waitMs: 3_000 }),
    );
    await waitFor("20 claims waiting", () => waiters.size === 20);
    const before = (await commandTypes()).length;
    assert.equal((await call(`${u}/v1/queues/q/jobs`, "POST", { payload: 1 })).status, 201);
    await waitFor("a claim answered", () => waiters.size === 19);
    const jobs = [2, 3, 4].map((payload) => ({ payload }));
    assert.equal((await call(`${u}/v1/queues/q/batch`, "POST", { jobs })).status, 201);
    const answers = await Promise.all(claims);
    const got = answers.flatMap((a) => a.body.jobs.map((j: { payload: number }) => j.payload));
    assert.deepEqual(got.sort(), [1, 2, 3, 4], "each job once");
    const proposed = (await commandTypes()).slice(before);
    assert.deepEqual(proposed.filter((t) => t === "claim").length, 4, proposed.join(" "));
  }));
