// The Worker against a node in process: handlers' outcomes, lease renewal, cancellation, stop.

import assert from "node:assert/strict";
import { Client, FinalError, RetryLater, Worker, type WorkerJob } from "../../src/client/mod.ts";
import { type InProcessNode, startInProcessNode } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/node_process.ts";

async function withNode(fn: (client: Client, node: InProcessNode) => Promise<void>) {
  const node = await startInProcessNode();
  try {
    await fn(new Client({ urls: node.url, fetch: (u, init) => node.fetch(String(u), init) }), node);
  } finally {
    await node.stop();
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)));
  });

Deno.test("worker: a handler's return acks, a throw nacks, FinalError kills, RetryLater releases", () =>
  withNode(async (client) => {
    const ids = await client.enqueueBatch("w", [
      { payload: "ok", maxAttempts: 1 },
      { payload: "throw", maxAttempts: 1 },
      { payload: "final", maxAttempts: 5 },
      { payload: "later", maxAttempts: 5 },
    ]);
    const seen: string[] = [];
    const worker = new Worker<string>(client, "w", (job) => {
      seen.push(`${job.payload}:${job.attempt}`);
      if (job.payload === "throw") throw new Error("boom");
      if (job.payload === "final") throw new FinalError("bad input");
      if (job.payload === "later" && job.attempt === 1 && !seen.includes("later:1:again")) {
        seen.push("later:1:again");
        throw new RetryLater(0);
      }
      return { echoed: job.payload };
    }, { concurrency: 2, waitMs: 200 });
    const failed: string[] = [];
    worker.on("failed", (job, _e, state) => failed.push(`${job.payload}:${state}`));
    worker.start();
    await waitFor(
      "every job to end",
      () => worker.stats.completed === 2 && worker.stats.failed === 2,
    );
    await worker.stop();
    const jobs = await Promise.all(ids.map((id) => client.getJob(id)));
    assert.deepEqual(jobs.map((j) => j.state), ["done", "dead", "dead", "done"]);
    assert.deepEqual(jobs[0].result, { echoed: "ok" });
    assert.equal(jobs[1].lastError, "boom");
    assert.equal(jobs[2].attempts, 1, "a FinalError ends the job at its first attempt");
    assert.equal(jobs[3].attempts, 1, "the RetryLater used no attempt");
    assert.deepEqual(failed.sort(), ["final:dead", "throw:dead"]);
    assert.equal(worker.stats.released, 1);
  }));

Deno.test("worker: a handler longer than its lease keeps it and completes once", () =>
  withNode(async (client) => {
    const { id } = await client.enqueue("slow", "x");
    let runs = 0;
    const worker = new Worker(client, "slow", async (job) => {
      runs++;
      await sleep(5_000, job.signal);
      return "finished";
    }, { leaseMs: 1_000, waitMs: 200 });
    worker.start();
    const job = await client.waitJob(id, { waitMs: 10_000 });
    await worker.stop();
    assert.equal(job.state, "done");
    assert.equal(job.attempts, 1, "the lease never ran out");
    assert.equal(runs, 1);
    assert.deepEqual(worker.stats, {
      claimed: 1,
      completed: 1,
      failed: 0,
      released: 0,
      leaseLost: 0,
      running: 0,
    });
  }));

Deno.test("worker: a job cancelled while it runs aborts its handler within a lease period", () =>
  withNode(async (client) => {
    const { id } = await client.enqueue("c", "x");
    let started: WorkerJob | undefined;
    let abortedAt = 0;
    const worker = new Worker(client, "c", async (job) => {
      started = job;
      job.signal.addEventListener("abort", () => (abortedAt = Date.now()));
      await sleep(30_000, job.signal);
    }, { leaseMs: 1_000, waitMs: 200 });
    const lost: string[] = [];
    worker.on("leaseLost", (_job, reason) => lost.push(reason));
    worker.start();
    await waitFor("the handler to start", () => started);
    const cancelledAt = Date.now();
    await client.cancel(id);
    await waitFor("the handler's signal to abort", () => abortedAt > 0);
    assert.ok(abortedAt - cancelledAt <= 1_000, `aborted after ${abortedAt - cancelledAt} ms`);
    await worker.stop();
    assert.deepEqual(lost, ["cancelled"]);
    assert.equal((await client.getJob(id)).state, "cancelled");
    assert.equal(worker.stats.completed + worker.stats.failed, 0, "its outcome was dropped");
  }));

Deno.test("worker: stop() lets running handlers finish and releases the rest", () =>
  withNode(async (client) => {
    const ids = await client.enqueueBatch(
      "s",
      Array.from({ length: 12 }, (_, i) => ({ payload: i })),
    );
    let running = 0;
    const worker = new Worker(client, "s", async () => {
      running++;
      await sleep(300);
      return "done";
    }, { concurrency: 4, waitMs: 200 });
    worker.start();
    await waitFor("four handlers to run", () => running === 4);
    await worker.stop();
    const jobs = await Promise.all(ids.map((id) => client.getJob(id)));
    const done = jobs.filter((j) => j.state === "done");
    assert.ok(done.length >= 4 && done.length < 12, `${done.length} done`);
    for (const j of jobs.filter((j) => j.state !== "done")) {
      assert.equal(j.state, "ready");
      assert.equal(j.attempts, 0, "unstarted jobs used no attempt");
    }
    assert.equal(worker.stats.running, 0);
  }));

Deno.test("worker: stop() past its timeout aborts a handler and releases its job", () =>
  withNode(async (client) => {
    const { id } = await client.enqueue("t", "x");
    let aborted = false;
    const worker = new Worker(client, "t", async (job) => {
      job.signal.addEventListener("abort", () => (aborted = true));
      await sleep(60_000, job.signal).catch(() => {});
      return "too late";
    }, { waitMs: 200 });
    worker.start();
    await waitFor("the job to be leased", async () => (await client.getJob(id)).state === "leased");
    await worker.stop({ timeoutMs: 200 });
    assert.ok(aborted);
    const job = await client.getJob(id);
    assert.equal(job.state, "ready");
    assert.equal(job.attempts, 0, "a release uses no attempt");
    assert.equal(worker.stats.released, 1);
  }));

Deno.test("worker: a handler past timeoutMs is aborted and its job nacked", () =>
  withNode(async (client) => {
    const { id } = await client.enqueue("slowpoke", "x", { maxAttempts: 1 });
    const worker = new Worker(client, "slowpoke", (job) => sleep(30_000, job.signal), {
      timeoutMs: 300,
      waitMs: 200,
    });
    worker.start();
    const job = await client.waitJob(id, { waitMs: 5_000 });
    await worker.stop();
    assert.equal(job.state, "dead");
    assert.match(job.lastError ?? "", /longer than 300 ms/);
  }));

Deno.test("worker: each ack brings the slot's next job: one request a job, within concurrency", async () => {
  const node = await startInProcessNode();
  const paths: string[] = [];
  const fetch = (u: string | URL | Request, init?: RequestInit) => {
    if (init?.method === "POST") paths.push(new URL(String(u)).pathname.split("/").at(-1)!);
    return node.fetch(String(u), init);
  };
  try {
    const client = new Client({ urls: node.url, fetch });
    await client.enqueueBatch("loop", Array.from({ length: 30 }, (_, n) => ({ payload: n })));
    let running = 0;
    let most = 0;
    const worker = new Worker<number>(client, "loop", async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
    }, { concurrency: 3, waitMs: 200 });
    let requests: string[] = [];
    // Until the queue runs dry (the 27th ack leases the 30th job) the first claim is the only one.
    worker.on("completed", () => {
      if (worker.stats.completed === 27) requests = paths.slice(1); // (after the batch)
    });
    worker.start();
    await waitFor("30 jobs done", () => worker.stats.completed === 30);
    await worker.stop();
    // The other two slots' acks may be on their way already when the 27th is answered.
    const acks = requests.filter((p) => p === "ack").length;
    assert.ok(acks >= 27 && acks <= 29, `${acks} acks: ${requests.join(" ")}`);
    assert.equal(requests.filter((p) => p === "claim").length, 1, requests.join(" "));
    assert.ok(most <= 3, `${most} handlers at once`);
    assert.equal((await client.queue("loop")).done, 30);
  } finally {
    await node.stop();
  }
});

Deno.test("worker: a server that refuses an ack's next claim gets plain acks, and every job ends", async () => {
  const node = await startInProcessNode();
  let refused = 0;
  // An older server: the body's next field is unknown there, and the ack is refused whole.
  const fetch = async (u: string | URL | Request, init?: RequestInit) => {
    if (String(u).endsWith("/ack") && String(init?.body).includes('"next"')) {
      refused++;
      const message = 'the body has an unknown field "next"';
      return Response.json({ error: { code: "invalid_request", message } }, { status: 400 });
    }
    return await node.fetch(String(u), init);
  };
  try {
    const client = new Client({ urls: node.url, fetch });
    await client.enqueueBatch("old", Array.from({ length: 5 }, (_, n) => ({ payload: n })));
    const worker = new Worker(client, "old", () => "ok", { waitMs: 200 });
    worker.start();
    await waitFor("5 jobs done", () => worker.stats.completed === 5);
    await worker.stop();
    assert.equal(refused, 1, "asked once, then plain acks");
    assert.equal((await client.queue("old")).done, 5);
  } finally {
    await node.stop();
  }
});
