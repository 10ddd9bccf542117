// POST /v1/flows and dependsOn over the API, in process: ids by ref, waiting jobs, results passed.

import assert from "node:assert/strict";
import { withInProcessNode as withNode } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/node_process.ts";

Deno.test("api: a flow is created whole, its jobs wait, and a job sees its dependencies' results", () =>
  withNode(async ({ url: u, call }) => {
    const r = await call(`${u}/v1/flows`, "POST", {
      jobs: [
        { ref: "report", queue: "reports", payload: {}, dependsOn: ["a", "b"] },
        { ref: "a", queue: "fetch", payload: { url: 1 } },
        { ref: "b", queue: "fetch", payload: { url: 2 }, group: "site-2" },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const { report, a, b } = r.body.ids;
    assert.equal((await call(`${u}/v1/jobs/${report}`, "GET")).body.state, "waiting");
    assert.equal((await call(`${u}/v1/queues/reports`, "GET")).body.waiting, 1);
    for (const result of [{ rows: 1 }, { rows: 2 }]) {
      const claim = await call(`${u}/v1/queues/fetch/claim`, "POST", { worker: "w" });
      const [job] = claim.body.jobs;
      await call(`${u}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease, result });
    }
    const view = (await call(`${u}/v1/jobs/${report}`, "GET")).body;
    assert.equal(view.state, "ready");
    assert.deepEqual(view.dependsOn, [a, b]);
    assert.deepEqual(Object.keys(view.dependencyResults).sort(), [a, b].sort());
    const later = await call(`${u}/v1/queues/reports/jobs`, "POST", {
      payload: 1,
      dependsOn: [report],
      onFailure: "ignore",
    });
    assert.equal(later.body.state, "waiting");
    const missing = await call(`${u}/v1/queues/reports/jobs`, "POST", {
      payload: 1,
      dependsOn: ["999-9"],
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, "job 999-9 in dependsOn does not exist");
  }));

Deno.test("api: a flow with a cycle, an unknown ref or a ref used twice is refused whole", () =>
  withNode(async ({ url: u, call }) => {
    const refused = async (jobs: unknown[], message: string) => {
      const r = await call(`${u}/v1/flows`, "POST", { jobs });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.message, message);
    };
    const j = (ref: string, ...dependsOn: string[]) => ({ ref, queue: "q", payload: 0, dependsOn });
    await refused(
      [j("a", "c"), j("b", "a"), j("c", "b")],
      'the flow has a cycle among "a", "b", "c"',
    );
    await refused([j("a", "x")], 'jobs[0].dependsOn names "x", no job of this flow');
    await refused([j("a"), j("a")], 'jobs[1].ref "a" is used twice');
    await refused([j("a", "a")], 'jobs[0] ("a") depends on itself');
    assert.deepEqual((await call(`${u}/v1/queues`, "GET")).body.queues, [], "nothing was created");
  }));

Deno.test("api: a flow names at most 10,000 dependencies in all", () =>
  withNode(async ({ url: u, call }) => {
    const flow = (roots: number) => {
      const refs = Array.from({ length: roots }, (_, k) => `r${k}`);
      const jobs = [
        ...refs.map((ref) => ({ ref, queue: "wide", payload: 0 })),
        ...Array.from({ length: 1000 - roots }, (_, k) => ({
          ref: `j${k}`,
          queue: "wide",
          payload: 0,
          dependsOn: refs,
        })),
      ];
      return call(`${u}/v1/flows`, "POST", { jobs });
    };
    const over = await flow(11); // 989 jobs x 11 dependencies = 10,879
    assert.equal(over.status, 400);
    assert.equal(
      over.body.error.message,
      "the jobs name 10879 dependencies in all; at most 10000 a request",
    );
    const under = await flow(10); // 990 x 10 = 9,900
    assert.equal(under.status, 201, JSON.stringify(under.body).slice(0, 200));
    assert.equal((await call(`${u}/v1/queues/wide`, "GET")).body.waiting, 990);
  }));

Deno.test("api: a job 2,500 others wait for is acked at once; the leader's ticks tell the rest", () =>
  withNode(async ({ url: u, call }) => {
    const root = (await call(`${u}/v1/queues/root/jobs`, "POST", { payload: 0 })).body;
    for (let batch = 0; batch < 3; batch++) {
      const jobs = Array.from({ length: batch < 2 ? 1000 : 500 }, () => ({
        payload: batch,
        dependsOn: [root.id],
      }));
      const r = await call(`${u}/v1/queues/wide/batch`, "POST", { jobs });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const [job] = (await call(`${u}/v1/queues/root/claim`, "POST", { worker: "w" })).body.jobs;
    const acked = await call(`${u}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease });
    assert.equal(acked.status, 200);
    // One entry tells at most 1,000: the rest are told by ticks the leader proposes at once.
    const counts = await waitFor("every waiting job to be ready", async () => {
      const q = (await call(`${u}/v1/queues/wide`, "GET")).body;
      return q.waiting === 0 && q;
    });
    assert.equal(counts.ready, 2500);
  }));
