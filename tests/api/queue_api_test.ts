// The queue API's routes, answered in process (app.request) by a one-node cluster on SQLite in
// memory; the HTTP edge itself is tested in connections_test.ts.

import assert from "node:assert/strict";
import { type InProcessNode, withInProcessNode } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/node_process.ts";

/** A fresh node for `fn` (and its steps), checked and stopped after (see withInProcessNode). */
const withNode = (
  fn: (node: InProcessNode, t: Deno.TestContext) => Promise<void>,
  t: Deno.TestContext,
) => withInProcessNode((node) => fn(node, t));

// deno-lint-ignore no-explicit-any
function assertError(r: { status: number; body: any }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code, JSON.stringify(r.body));
  assert.equal(typeof r.body.error.message, "string");
}

Deno.test("api: the queue routes of api.md", (t) =>
  withNode(async (node, t) => {
    const u = node.url;
    const { call } = node;

    await t.step("enqueue answers 201 with the id and names the leader", async () => {
      const r = await call(`${u}/v1/queues/emails/jobs`, "POST", {
        payload: { to: "a@b" },
        priority: 2,
      });
      assert.equal(r.status, 201);
      assert.equal(r.body.queue, "emails");
      assert.equal(r.body.state, "ready");
      assert.match(r.body.id, /^\d+-\d+$/);
      assert.ok(r.headers.get("x-raftq-leader"));
      const job = await call(`${u}/v1/jobs/${r.body.id}`, "GET");
      assert.equal(job.status, 200);
      assert.deepEqual(job.body.payload, { to: "a@b" });
      for (
        const f of [
          "id",
          "queue",
          "state",
          "attempts",
          "maxAttempts",
          "priority",
          "createdAt",
          "updatedAt",
        ]
      ) {
        assert.ok(f in job.body, f);
      }
    });

    await t.step("a delayed job is reported delayed", async () => {
      const r = await call(`${u}/v1/queues/later/jobs`, "POST", { payload: 1, delayMs: 60_000 });
      assert.equal(r.status, 201);
      assert.equal(r.body.state, "delayed");
    });

    await t.step("the same idempotencyKey answers 200 with the first id", async () => {
      const a = await call(`${u}/v1/queues/idem/jobs`, "POST", { payload: 1, idempotencyKey: "k" });
      const b = await call(`${u}/v1/queues/idem/jobs`, "POST", { payload: 2, idempotencyKey: "k" });
      assert.equal(a.status, 201);
      assert.equal(b.status, 200);
      assert.equal(b.body.id, a.body.id);
      assert.equal(b.body.deduplicated, true);
    });

    await t.step("batch: 201 with every id; one bad job refuses the whole batch", async () => {
      const jobs = Array.from({ length: 100 }, (_, i) => ({ payload: i }));
      const r = await call(`${u}/v1/queues/bulk/batch`, "POST", { jobs });
      assert.equal(r.status, 201);
      assert.equal(r.body.ids.length, 100);
      const bad = await call(`${u}/v1/queues/bulk2/batch`, "POST", {
        jobs: [{ payload: 1 }, { payload: 2, priority: 99 }],
      });
      assertError(bad, 400, "invalid_request");
      assert.match(bad.body.error.message, /jobs\[1\]/);
      const queues = await call(`${u}/v1/queues`, "GET");
      assert.equal(queues.body.queues.find((q: { name: string }) => q.name === "bulk2"), undefined);
      const tooMany = await call(`${u}/v1/queues/bulk/batch`, "POST", {
        jobs: Array.from({ length: 1001 }, () => ({ payload: 0 })),
      });
      assertError(tooMany, 400, "invalid_request");
    });

    await t.step("claim, ack, and an old lease refused with 409 lease_mismatch", async () => {
      await call(`${u}/v1/queues/work/jobs`, "POST", { payload: "w1" });
      const c = await call(`${u}/v1/queues/work/claim`, "POST", { worker: "me", leaseMs: 5000 });
      assert.equal(c.status, 200);
      assert.equal(c.body.jobs.length, 1);
      const job = c.body.jobs[0];
      for (const f of ["id", "payload", "attempt", "lease", "leaseExpiresAt"]) {
        assert.ok(f in job, f);
      }
      assert.equal(job.payload, "w1");
      const ext = await call(`${u}/v1/jobs/${job.id}/extend`, "POST", {
        lease: job.lease,
        leaseMs: 10_000,
      });
      assert.equal(ext.status, 200);
      assert.ok(ext.body.leaseExpiresAt >= job.leaseExpiresAt);
      const ack = await call(`${u}/v1/jobs/${job.id}/ack`, "POST", {
        lease: job.lease,
        result: { ok: true },
      });
      assert.deepEqual(ack.body, { id: job.id, state: "done" });
      const wrong = await call(`${u}/v1/jobs/${job.id}/nack`, "POST", { lease: "999999" });
      assertError(wrong, 409, "lease_mismatch");
      const view = await call(`${u}/v1/jobs/${job.id}`, "GET");
      assert.equal(view.body.state, "done");
      assert.deepEqual(view.body.result, { ok: true });
      const empty = await call(`${u}/v1/queues/work/claim`, "POST", { worker: "me" });
      assert.deepEqual(empty.body, { jobs: [] });
    });

    await t.step(
      "an ack with next answers the worker's next jobs, leased in its entry",
      async () => {
        await call(`${u}/v1/queues/loop/batch`, "POST", {
          jobs: [{ payload: { n: 1 } }, { payload: { n: 2 } }],
        });
        const [first] =
          (await call(`${u}/v1/queues/loop/claim`, "POST", { worker: "me" })).body.jobs;
        const next = { queue: "loop", worker: "me", leaseMs: 5000 };
        const r = await call(`${u}/v1/jobs/${first.id}/ack`, "POST", { lease: first.lease, next });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(Object.keys(r.body), ["id", "state", "jobs"]);
        assert.equal(r.body.jobs.length, 1);
        const [second] = r.body.jobs;
        assert.equal(second.attempt, 1);
        const again = await call(`${u}/v1/jobs/${second.id}/ack`, "POST", {
          lease: second.lease,
          next,
        });
        assert.deepEqual(again.body, { id: second.id, state: "done", jobs: [] }, "none was ready");
        const stats = (await call(`${u}/v1/queues/loop`, "GET")).body;
        assert.deepEqual([stats.done, stats.leased, stats.ready], [2, 0, 0]);
      },
    );

    await t.step("nack retries, then dead; dead letters list and retry", async () => {
      await call(`${u}/v1/queues/flaky/jobs`, "POST", { payload: "f", maxAttempts: 1 });
      const c = await call(`${u}/v1/queues/flaky/claim`, "POST", { worker: "me" });
      const job = c.body.jobs[0];
      const n = await call(`${u}/v1/jobs/${job.id}/nack`, "POST", {
        lease: job.lease,
        error: "boom",
      });
      assert.deepEqual(n.body, { id: job.id, state: "dead" });
      const dead = await call(`${u}/v1/queues/flaky/dead`, "GET");
      assert.equal(dead.status, 200);
      assert.equal(dead.body.jobs[0].id, job.id);
      assert.equal(dead.body.jobs[0].lastError, "boom");
      const retry = await call(`${u}/v1/queues/flaky/dead/${job.id}/retry`, "POST");
      assert.deepEqual(retry.body, { id: job.id, state: "ready" });
      const again = await call(`${u}/v1/queues/flaky/dead/${job.id}/retry`, "POST");
      assertError(again, 409, "conflict");
    });

    await t.step("nack with retryDelayMs 0 makes the job ready again", async () => {
      await call(`${u}/v1/queues/retry/jobs`, "POST", { payload: 1 });
      const c = await call(`${u}/v1/queues/retry/claim`, "POST", { worker: "me" });
      const job = c.body.jobs[0];
      const n = await call(`${u}/v1/jobs/${job.id}/nack`, "POST", {
        lease: job.lease,
        retryDelayMs: 0,
      });
      assert.deepEqual(n.body, { id: job.id, state: "ready" });
      const c2 = await call(`${u}/v1/queues/retry/claim`, "POST", { worker: "me" });
      assert.equal(c2.body.jobs[0].attempt, 2);
    });

    await t.step("DELETE cancels a job that is not done; a done job is a conflict", async () => {
      const e = await call(`${u}/v1/queues/cancel/jobs`, "POST", { payload: 1 });
      const d = await call(`${u}/v1/jobs/${e.body.id}`, "DELETE");
      assert.deepEqual(d.body, { id: e.body.id, state: "cancelled" });
      const done = await call(`${u}/v1/queues/work/jobs`, "POST", { payload: 2 });
      const c = await call(`${u}/v1/queues/work/claim`, "POST", { worker: "me" });
      await call(`${u}/v1/jobs/${done.body.id}/ack`, "POST", { lease: c.body.jobs[0].lease });
      assertError(await call(`${u}/v1/jobs/${done.body.id}`, "DELETE"), 409, "conflict");
      assertError(await call(`${u}/v1/jobs/99999-0`, "DELETE"), 404, "not_found");
    });

    await t.step("release gives a job back without using an attempt", async () => {
      await call(`${u}/v1/queues/rel/jobs`, "POST", { payload: 1 });
      const job = (await call(`${u}/v1/queues/rel/claim`, "POST", { worker: "me" })).body.jobs[0];
      const r = await call(`${u}/v1/jobs/${job.id}/release`, "POST", { lease: job.lease });
      assert.deepEqual(r.body, { id: job.id, state: "ready" });
      const again = (await call(`${u}/v1/queues/rel/claim`, "POST", { worker: "me" })).body.jobs[0];
      assert.equal(again.attempt, 1);
      const snooze = await call(`${u}/v1/jobs/${job.id}/release`, "POST", {
        lease: again.lease,
        delayMs: 60_000,
      });
      assert.deepEqual(snooze.body, { id: job.id, state: "delayed" });
      const stale = await call(`${u}/v1/jobs/${job.id}/release`, "POST", { lease: job.lease });
      assertError(stale, 409, "lease_mismatch");
    });

    await t.step("a final nack makes a job dead at once", async () => {
      await call(`${u}/v1/queues/fin/jobs`, "POST", { payload: 1, maxAttempts: 9 });
      const job = (await call(`${u}/v1/queues/fin/claim`, "POST", { worker: "me" })).body.jobs[0];
      const r = await call(`${u}/v1/jobs/${job.id}/nack`, "POST", {
        lease: job.lease,
        error: "bad input",
        final: true,
      });
      assert.deepEqual(r.body, { id: job.id, state: "dead" });
    });

    await t.step("progress shows on the job; a cancelled job answers 409 cancelled", async () => {
      await call(`${u}/v1/queues/prog/jobs`, "POST", { payload: 1 });
      const job = (await call(`${u}/v1/queues/prog/claim`, "POST", { worker: "me" })).body.jobs[0];
      const p = await call(`${u}/v1/jobs/${job.id}/progress`, "POST", {
        lease: job.lease,
        progress: { step: 2, of: 3 },
      });
      assert.deepEqual(p.body, { id: job.id });
      assert.deepEqual((await call(`${u}/v1/jobs/${job.id}`, "GET")).body.progress, {
        step: 2,
        of: 3,
      });
      await call(`${u}/v1/jobs/${job.id}`, "DELETE");
      const ext = await call(`${u}/v1/jobs/${job.id}/extend`, "POST", {
        lease: job.lease,
        leaseMs: 5000,
      });
      assertError(ext, 409, "cancelled");
      const again = await call(`${u}/v1/jobs/${job.id}/progress`, "POST", {
        lease: job.lease,
        progress: 3,
      });
      assertError(again, 409, "cancelled");
    });

    await t.step("wait answers when the job ends, or as it is at the timeout", async () => {
      const e = await call(`${u}/v1/queues/wait/jobs`, "POST", { payload: 1 });
      const early = await call(`${u}/v1/jobs/${e.body.id}/wait?timeoutMs=50`, "GET");
      assert.equal(early.status, 200);
      assert.equal(early.body.state, "ready");
      const waiting = call(`${u}/v1/jobs/${e.body.id}/wait?timeoutMs=10000`, "GET");
      const job = (await call(`${u}/v1/queues/wait/claim`, "POST", { worker: "me" })).body.jobs[0];
      await call(`${u}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease, result: "r" });
      const r = await waiting;
      assert.equal(r.body.state, "done");
      assert.equal(r.body.result, "r");
      const quick = Date.now();
      assert.equal((await call(`${u}/v1/jobs/${e.body.id}/wait`, "GET")).body.state, "done");
      assert.ok(Date.now() - quick < 5_000, "an ended job is answered at once");
      assertError(await call(`${u}/v1/jobs/9999-0/wait`, "GET"), 404, "not_found");
    });

    await t.step(
      "a paused queue takes enqueues, hands out nothing, and wakes on resume",
      async () => {
        const p = await call(`${u}/v1/queues/held/pause`, "POST");
        assert.equal(p.status, 200);
        assert.equal(p.body.paused, true);
        const e = await call(`${u}/v1/queues/held/jobs`, "POST", { payload: "wait" });
        assert.equal(e.status, 201);
        const none = await call(`${u}/v1/queues/held/claim`, "POST", { worker: "me" });
        assert.deepEqual(none.body, { jobs: [] });
        const view = await call(`${u}/v1/queues/held`, "GET");
        assert.deepEqual(
          { paused: view.body.paused, ready: view.body.ready, config: view.body.config },
          { paused: true, ready: 1, config: {} },
        );
        const waiting = call(`${u}/v1/queues/held/claim`, "POST", { worker: "me", waitMs: 10_000 });
        await waitFor("the claim to wait", () => node.waiters.size > 0);
        const r = await call(`${u}/v1/queues/held/resume`, "POST");
        assert.equal(r.body.paused, false);
        assert.equal((await waiting).body.jobs[0]?.id, e.body.id, "the resume woke the long poll");
        const unused = await call(`${u}/v1/queues/never-used`, "GET");
        assert.equal(unused.body.ready, 0);
      },
    );

    await t.step(
      "a queue's config sets defaults, and maxDepth answers 429 queue_full",
      async () => {
        const config = { maxAttempts: 3, maxDepth: 1, backoff: { type: "fixed", baseMs: 500 } };
        const put = await call(`${u}/v1/queues/cfg/config`, "PUT", config);
        assert.equal(put.status, 200);
        assert.deepEqual(put.body, config);
        assert.deepEqual((await call(`${u}/v1/queues/cfg`, "GET")).body.config, config);
        const e = await call(`${u}/v1/queues/cfg/jobs`, "POST", { payload: 1 });
        assert.equal((await call(`${u}/v1/jobs/${e.body.id}`, "GET")).body.maxAttempts, 3);
        const full = await call(`${u}/v1/queues/cfg/jobs`, "POST", { payload: 2 });
        assertError(full, 429, "queue_full");
        assert.equal(full.headers.get("retry-after"), "1");
        const cleared = await call(`${u}/v1/queues/cfg/config`, "PUT", {});
        assert.deepEqual(cleared.body, {});
        assert.equal((await call(`${u}/v1/queues/cfg/jobs`, "POST", { payload: 2 })).status, 201);
      },
    );

    await t.step("list a queue's jobs by page; retry dead letters and purge in bulk", async () => {
      const jobs = Array.from({ length: 5 }, (_, i) => ({ payload: i, maxAttempts: 1 }));
      const { ids } = (await call(`${u}/v1/queues/bulk-ops/batch`, "POST", { jobs })).body;
      const page = await call(`${u}/v1/queues/bulk-ops/jobs?limit=3`, "GET");
      assert.deepEqual(page.body.jobs.map((j: { id: string }) => j.id), ids.slice(2).reverse());
      const rest = await call(
        `${u}/v1/queues/bulk-ops/jobs?limit=3&cursor=${page.body.next}`,
        "GET",
      );
      assert.deepEqual(rest.body.jobs.map((j: { id: string }) => j.id), ids.slice(0, 2).reverse());
      assert.equal(rest.body.next, null);
      const claimed = await call(`${u}/v1/queues/bulk-ops/claim`, "POST", { worker: "w", max: 5 });
      for (const j of claimed.body.jobs) {
        await call(`${u}/v1/jobs/${j.id}/nack`, "POST", { lease: j.lease });
      }
      const dead = await call(`${u}/v1/queues/bulk-ops/jobs?state=dead`, "GET");
      assert.equal(dead.body.jobs.length, 5);
      const retried = await call(`${u}/v1/queues/bulk-ops/dead/retry`, "POST", { limit: 2 });
      assert.deepEqual(retried.body, { retried: 2 });
      const purged = await call(`${u}/v1/queues/bulk-ops/jobs?state=dead`, "DELETE");
      assert.deepEqual(purged.body, { purged: 3 });
      assert.deepEqual((await call(`${u}/v1/queues/bulk-ops/dead/retry`, "POST")).body, {
        retried: 0,
      });
      const view = (await call(`${u}/v1/queues/bulk-ops`, "GET")).body;
      assert.deepEqual([view.ready, view.dead], [2, 0]);
    });

    await t.step(
      "uniqueKey answers the unfinished job; ttlMs expires an unclaimed one",
      async () => {
        const a = await call(`${u}/v1/queues/uniq/jobs`, "POST", { payload: 1, uniqueKey: "x" });
        const b = await call(`${u}/v1/queues/uniq/jobs`, "POST", { payload: 2, uniqueKey: "x" });
        assert.equal(b.status, 200);
        assert.deepEqual(b.body, {
          id: a.body.id,
          queue: "uniq",
          state: "ready",
          deduplicated: true,
        });
        const e = await call(`${u}/v1/queues/ttl/jobs`, "POST", { payload: 1, ttlMs: 1 });
        const ended = await call(`${u}/v1/jobs/${e.body.id}/wait?timeoutMs=10000`, "GET");
        assert.equal(ended.body.state, "expired");
        const purge = await call(`${u}/v1/queues/ttl/jobs?state=expired`, "DELETE");
        assert.deepEqual(purge.body, { purged: 1 });
      },
    );

    await t.step("a schedule is set, fires on the leader's clock, and is deleted", async () => {
      const put = await call(`${u}/v1/schedules/tick`, "PUT", {
        queue: "sched",
        everyMs: 1_000,
        payload: { kind: "report" },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual([put.body.overlap, put.body.catchUp], ["allow", "none"]);
      assert.ok(put.body.nextRunAt > Date.now() - 1_000 && put.body.nextRunAt % 1_000 === 0);
      const fired = await waitFor("a firing", async () => {
        const r = await call(`${u}/v1/queues/sched/jobs`, "GET");
        return r.body.jobs[0];
      });
      assert.deepEqual(fired.payload, { kind: "report" });
      const list = await call(`${u}/v1/schedules`, "GET");
      assert.deepEqual(list.body.schedules.map((x: { id: string }) => x.id), ["tick"]);
      const one = await call(`${u}/v1/schedules/tick`, "GET");
      assert.ok(one.body.lastRunAt >= put.body.nextRunAt);
      assert.deepEqual((await call(`${u}/v1/schedules/tick`, "DELETE")).body, {
        id: "tick",
        deleted: true,
      });
      assertError(await call(`${u}/v1/schedules/tick`, "GET"), 404, "not_found");
      const cron = await call(`${u}/v1/schedules/nightly`, "PUT", {
        queue: "sched",
        cron: "0 3 * * *",
        tz: "Europe/Berlin",
      });
      assert.equal(new Date(cron.body.nextRunAt).getUTCMinutes(), 0);
      await call(`${u}/v1/schedules/nightly`, "DELETE");
    });

    await t.step("GET /v1/queues counts jobs by state, linearizable or local", async () => {
      const lin = await call(`${u}/v1/queues`, "GET");
      const local = await call(`${u}/v1/queues?consistency=local`, "GET");
      assert.deepEqual(lin.body, local.body);
      const emails = lin.body.queues.find((q: { name: string }) => q.name === "emails");
      assert.deepEqual(emails, {
        name: "emails",
        paused: false,
        ready: 1,
        delayed: 0,
        leased: 0,
        done: 0,
        dead: 0,
        cancelled: 0,
        expired: 0,
        waiting: 0,
      });
      assertError(await call(`${u}/v1/queues?consistency=eventual`, "GET"), 400, "invalid_request");
      assert.equal(lin.body.next, null, "every queue on one page");
    });

    await t.step("GET /v1/queues pages by name; next is the last name shown", async () => {
      for (const q of ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e"]) {
        assert.equal((await call(`${u}/v1/queues/${q}/pause`, "POST")).status, 200);
      }
      const names: string[] = [];
      let cursor = "pg-";
      let pages = 0;
      for (; cursor !== null && cursor.startsWith("pg-"); pages++) {
        const r = await call(`${u}/v1/queues?limit=2&cursor=${cursor}`, "GET");
        assert.equal(r.status, 200);
        assert.ok(r.body.queues.length <= 2);
        names.push(...r.body.queues.map((q: { name: string }) => q.name));
        cursor = r.body.next;
      }
      assert.deepEqual(names.filter((n) => n.startsWith("pg-")), [
        "pg-a",
        "pg-b",
        "pg-c",
        "pg-d",
        "pg-e",
      ]);
      assert.equal(pages, 3, "two a page, and the third ends past pg-e");
      for (const q of ["a,b", "", "x".repeat(129)]) {
        const r = await call(`${u}/v1/queues?cursor=${encodeURIComponent(q)}`, "GET");
        assertError(r, 400, "invalid_request");
      }
      assertError(await call(`${u}/v1/queues?limit=1001`, "GET"), 400, "invalid_request");
    });

    await t.step("long poll: a waiting claim returns as soon as a job is enqueued", async () => {
      const waiting = call(`${u}/v1/queues/lp/claim`, "POST", { worker: "me", waitMs: 10_000 });
      await waitFor("the claim to wait", () => node.waiters.size > 0);
      const e = await call(`${u}/v1/queues/lp/jobs`, "POST", { payload: "wake" });
      const r = await waiting;
      assert.equal(r.status, 200);
      assert.equal(r.body.jobs[0]?.id, e.body.id);
    });

    await t.step("long poll: nothing ready by waitMs gives an empty list", async () => {
      const started = Date.now();
      const r = await call(`${u}/v1/queues/nothing/claim`, "POST", { worker: "me", waitMs: 300 });
      assert.deepEqual(r.body, { jobs: [] });
      assert.ok(Date.now() - started >= 290, "it waited");
    });
  }, t));

Deno.test("api: bad input of every kind gets a 4xx with the error shape, never a 500", (t) =>
  withNode(async (node, t) => {
    const u = node.url;
    const { call, fetch } = node;
    const cases: [string, string, string, unknown, number, string][] = [
      ["malformed JSON", "POST", "/v1/queues/q/jobs", "{not json", 400, "invalid_request"],
      ["empty body", "POST", "/v1/queues/q/jobs", "", 400, "invalid_request"],
      ["body not an object", "POST", "/v1/queues/q/jobs", "[1,2]", 400, "invalid_request"],
      ["no payload", "POST", "/v1/queues/q/jobs", { priority: 1 }, 400, "invalid_request"],
      [
        "unknown field",
        "POST",
        "/v1/queues/q/jobs",
        { payload: 1, colour: "red" },
        400,
        "invalid_request",
      ],
      [
        "priority out of range",
        "POST",
        "/v1/queues/q/jobs",
        { payload: 1, priority: 10 },
        400,
        "invalid_request",
      ],
      [
        "negative delay",
        "POST",
        "/v1/queues/q/jobs",
        { payload: 1, delayMs: -5 },
        400,
        "invalid_request",
      ],
      [
        "fractional attempts",
        "POST",
        "/v1/queues/q/jobs",
        { payload: 1, maxAttempts: 1.5 },
        400,
        "invalid_request",
      ],
      [
        "string number",
        "POST",
        "/v1/queues/q/jobs",
        { payload: 1, priority: "3" },
        400,
        "invalid_request",
      ],
      ["bad queue name", "POST", "/v1/queues/b%20ad/jobs", { payload: 1 }, 400, "invalid_request"],
      [
        "queue name too long",
        "POST",
        `/v1/queues/${"q".repeat(129)}/jobs`,
        { payload: 1 },
        400,
        "invalid_request",
      ],
      ["claim without worker", "POST", "/v1/queues/q/claim", {}, 400, "invalid_request"],
      [
        "claim max 0",
        "POST",
        "/v1/queues/q/claim",
        { worker: "w", max: 0 },
        400,
        "invalid_request",
      ],
      [
        "claim max 101",
        "POST",
        "/v1/queues/q/claim",
        { worker: "w", max: 101 },
        400,
        "invalid_request",
      ],
      [
        "claim wait too long",
        "POST",
        "/v1/queues/q/claim",
        { worker: "w", waitMs: 20_001 },
        400,
        "invalid_request",
      ],
      ["ack without lease", "POST", "/v1/jobs/1-0/ack", {}, 400, "invalid_request"],
      ["ack of a malformed id", "POST", "/v1/jobs/abc/ack", { lease: "1" }, 404, "not_found"],
      ["ack of an unknown job", "POST", "/v1/jobs/424242-0/ack", { lease: "1" }, 404, "not_found"],
      [
        "extend without leaseMs",
        "POST",
        "/v1/jobs/1-0/extend",
        { lease: "1" },
        400,
        "invalid_request",
      ],
      ["release without lease", "POST", "/v1/jobs/1-0/release", {}, 400, "invalid_request"],
      [
        "release with a negative delay",
        "POST",
        "/v1/jobs/1-0/release",
        { lease: "1", delayMs: -1 },
        400,
        "invalid_request",
      ],
      [
        "nack with final not a boolean",
        "POST",
        "/v1/jobs/1-0/nack",
        { lease: "1", final: "yes" },
        400,
        "invalid_request",
      ],
      [
        "progress without progress",
        "POST",
        "/v1/jobs/1-0/progress",
        { lease: "1" },
        400,
        "invalid_request",
      ],
      [
        "wait too long",
        "GET",
        "/v1/jobs/1-0/wait?timeoutMs=60001",
        undefined,
        400,
        "invalid_request",
      ],
      [
        "wait not a number",
        "GET",
        "/v1/jobs/1-0/wait?timeoutMs=soon",
        undefined,
        400,
        "invalid_request",
      ],
      ["unknown job", "GET", "/v1/jobs/424242-0", undefined, 404, "not_found"],
      ["unknown route", "GET", "/v2/nothing", undefined, 404, "not_found"],
      ["wrong method", "PUT", "/v1/queues", undefined, 404, "not_found"],
      [
        "bad dead page limit",
        "GET",
        "/v1/queues/q/dead?limit=0",
        undefined,
        400,
        "invalid_request",
      ],
      ["bad dead cursor", "GET", "/v1/queues/q/dead?cursor=xyz", undefined, 400, "invalid_request"],
      [
        "a payload nested 101 levels",
        "POST",
        "/v1/queues/q/jobs",
        `{"payload":${"[".repeat(101)}${"]".repeat(101)}}`,
        400,
        "invalid_request",
      ],
      [
        "a result nested 5,000 levels",
        "POST",
        "/v1/jobs/1-0/ack",
        `{"lease":"1","result":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`,
        400,
        "invalid_request",
      ],
      [
        "a duplicate field",
        "POST",
        "/v1/queues/q/jobs",
        '{"payload":1,"payload":2}',
        400,
        "invalid_request",
      ],
      [
        "__proto__ as a field",
        "POST",
        "/v1/queues/q/jobs",
        '{"payload":1,"__proto__":{}}',
        400,
        "invalid_request",
      ],
    ];
    for (const [what, method, path, body, status, code] of cases) {
      await t.step(what, async () => {
        const r = await call(`${u}${path}`, method, body);
        assertError(r, status, code);
      });
    }

    await t.step("depth limits are named; 100 levels and hostile keys are fine", async () => {
      const deep = await call(
        `${u}/v1/queues/q/jobs`,
        "POST",
        `{"payload":${"[".repeat(101)}${"]".repeat(101)}}`,
      );
      assert.match(deep.body.error.message, /payload nests deeper than 100 levels/);
      const fine = `{"constructor":1,"__proto__":{"prototype":${"[".repeat(98)}${"]".repeat(98)}}}`;
      const r = await call(`${u}/v1/queues/deep/jobs`, "POST", `{"payload":${fine}}`);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const got = await fetch(`${u}/v1/jobs/${r.body.id}`).then((res) => res.text());
      assert.ok(got.includes(`"payload":${fine}`), "the payload comes back byte for byte");
      assert.equal((await call(`${u}/healthz`, "GET")).status, 200);
    });

    await t.step("a body over 1 MiB is 413 payload_too_large", async () => {
      const big = JSON.stringify({ payload: "x".repeat(2 * 1024 * 1024) });
      assertError(await call(`${u}/v1/queues/q/jobs`, "POST", big), 413, "payload_too_large");
    });

    await t.step("a chunked body over 1 MiB (no content-length) is 413 too", async () => {
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent === 0) ctl.enqueue(new TextEncoder().encode('{"payload":"'));
          if (sent++ < 40) ctl.enqueue(chunk);
          else ctl.close();
        },
      });
      const res = await fetch(`${u}/v1/queues/q/jobs`, { method: "POST", body: stream });
      const body = await res.json();
      assert.equal(res.status, 413);
      assert.equal(body.error.code, "payload_too_large");
    });

    await t.step("random garbage never yields a 5xx", async () => {
      const garbage = [
        "null",
        "0",
        '"s"',
        "{}",
        '{"payload":}',
        "\u0000\u0001",
        "[]",
        '{"jobs":null}',
        "{".repeat(5000),
      ];
      for (
        const path of [
          "/v1/queues/q/jobs",
          "/v1/queues/q/batch",
          "/v1/queues/q/claim",
          "/v1/jobs/1-0/ack",
          "/v1/jobs/1-0/nack",
          "/v1/jobs/1-0/extend",
          "/v1/jobs/1-0/release",
          "/v1/jobs/1-0/progress",
        ]
      ) {
        for (const g of garbage) {
          const r = await call(`${u}${path}`, "POST", g);
          assert.ok(r.status < 500, `${path} ${JSON.stringify(g).slice(0, 30)} gave ${r.status}`);
          assert.equal(typeof r.body?.error?.code, "string");
        }
      }
    });
  }, t));
