// The queue API of api.md: enqueue, batch, claim (long poll), a worker's job commands, reads.

import type { Context, Hono } from "hono";
import { RaftqError } from "../errors.ts";
import { pageOf, readBarrier, withUserJson } from "./reads.ts";
import { readJson, readOptionalJson } from "./body.ts";
import { maxRowsPerEntry } from "../queue/commands.ts";
import { expectResult } from "./apply_result.ts";
import type { ApiContext } from "./context.ts";
import * as v from "./validate.ts";

/** The least a long poll held back by a rate window waits before it asks again. */
const rateRecheckMs = 20;

const endStates: ReadonlySet<string> = new Set(["done", "dead", "cancelled", "expired"]);

/** The job once it has ended, or as it is at the timeout; null if it does not exist. */
async function waitForEnd(ctx: ApiContext, id: string, timeoutMs: number, signal: AbortSignal) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = ctx.node.queue.getJob(id);
    const remaining = deadline - Date.now();
    if (!job || endStates.has(job.state) || remaining <= 0 || signal.aborted) return job;
    await ctx.jobWaiters.wait(id, remaining, signal);
  }
}

/**
 * Bulk work as a run of entries of at most maxRowsPerEntry rows each, until `total` rows are
 * done or an entry finds fewer than it asked for: no entry stalls the apply loop.
 */
async function inEntries(total: number, entry: (limit: number) => Promise<number>) {
  let done = 0;
  while (done < total) {
    const limit = Math.min(maxRowsPerEntry, total - done);
    const n = await entry(limit);
    done += n;
    if (n < limit) break;
  }
  return done;
}

/** Reads a request's JSON body, users' JSON at the `opaque` paths kept as its text. */
type ReadBody = (c: Context, opaque?: readonly string[]) => Promise<unknown>;

export function queueRoutes(app: Hono, ctx: ApiContext): void {
  const body: ReadBody = (c, opaque = []) => readJson(c, ctx.maxBodyBytes, opaque);
  producerRoutes(app, ctx, body);
  workerRoutes(app, ctx, body);
  jobRoutes(app, ctx);
  queueControlRoutes(app, ctx, body);
  listingRoutes(app, ctx);
}

/** A producer's writes: one job, or a batch. */
function producerRoutes(app: Hono, ctx: ApiContext, body: ReadBody): void {
  const { node } = ctx;

  app.post("/v1/queues/:queue/jobs", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const job = v.newJob(await body(c, v.opaquePaths.job));
    const r = expectResult(await node.propose({ type: "enqueue", queue, jobs: [job] }), "enqueued");
    const [j] = r.jobs;
    if (j.deduplicated) return c.json({ id: j.id, queue, state: j.state, deduplicated: true }, 200);
    return c.json({ id: j.id, queue, state: j.state }, 201);
  });

  app.post("/v1/queues/:queue/batch", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const jobs = v.batch(await body(c, v.opaquePaths.batch));
    const r = expectResult(await node.propose({ type: "enqueue", queue, jobs }), "enqueued");
    return c.json({ ids: r.jobs.map((j) => j.id) }, 201);
  });
}

/** A worker's: claims (long polls), acks, nacks, releases, progress, extends. */
function workerRoutes(app: Hono, ctx: ApiContext, body: ReadBody): void {
  const { node } = ctx;

  app.post("/v1/queues/:queue/claim", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const req = v.claim(await body(c));
    const deadline = Date.now() + req.waitMs;
    const signal = c.req.raw.signal;
    for (;;) {
      const at = node.queue.claimableAt(queue, Date.now());
      if (at !== null && at <= Date.now()) {
        const r = expectResult(
          await node.propose({
            type: "claim",
            queue,
            worker: req.worker,
            max: req.max,
            leaseMs: req.leaseMs,
          }),
          "claimed",
        );
        if (r.jobs.length > 0) return withUserJson(c, { jobs: r.jobs });
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) return c.json({ jobs: [] });
      // A rate window ends by the clock, not by an apply: wait for its end (at least a little,
      // as the leader's stamp decides), or to be woken.
      const untilMs = at === null ? remaining : Math.max(rateRecheckMs, at - Date.now());
      await ctx.waiters.wait(queue, Math.min(remaining, untilMs), signal);
    }
  });

  app.post("/v1/jobs/:id/ack", async (c) => {
    const id = v.jobId(c.req.param("id"));
    const req = v.ack(await body(c, v.opaquePaths.ack));
    const r = expectResult(await node.propose({ type: "ack", id, ...req }), "acked");
    if (!req.next) return c.json({ id, state: "done" });
    return withUserJson(c, { id, state: "done", jobs: r.next ?? [] });
  });

  app.post("/v1/jobs/:id/nack", async (c) => {
    const id = v.jobId(c.req.param("id"));
    const req = v.nack(await body(c));
    const r = expectResult(await node.propose({ type: "nack", id, ...req }), "nacked");
    return c.json({ id, state: r.state });
  });

  app.post("/v1/jobs/:id/release", async (c) => {
    const id = v.jobId(c.req.param("id"));
    const req = v.release(await body(c));
    const r = expectResult(await node.propose({ type: "release", id, ...req }), "released");
    return c.json({ id, state: r.state });
  });

  app.post("/v1/jobs/:id/progress", async (c) => {
    const id = v.jobId(c.req.param("id"));
    const req = v.progress(await body(c, v.opaquePaths.progress));
    expectResult(await node.propose({ type: "progress", id, ...req }), "progressed");
    return c.json({ id });
  });

  app.post("/v1/jobs/:id/extend", async (c) => {
    const id = v.jobId(c.req.param("id"));
    const req = v.extend(await body(c));
    const r = expectResult(await node.propose({ type: "extend", id, ...req }), "extended");
    return c.json({ id, leaseExpiresAt: r.leaseExpiresAt });
  });
}

/** One job: read it, wait for its end, cancel it. */
function jobRoutes(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;

  app.get("/v1/jobs/:id", async (c) => {
    const id = v.jobId(c.req.param("id"));
    await readBarrier(c, ctx);
    const job = node.queue.getJob(id);
    if (!job) throw new RaftqError("not_found", `job ${id} does not exist`);
    return withUserJson(c, job);
  });

  app.get("/v1/jobs/:id/wait", async (c) => {
    const id = v.jobId(c.req.param("id"));
    const timeoutMs = v.waitTimeoutMs(c.req.query("timeoutMs"));
    await readBarrier(c, ctx);
    const job = await waitForEnd(ctx, id, timeoutMs, c.req.raw.signal);
    if (!job) throw new RaftqError("not_found", `job ${id} does not exist`);
    return withUserJson(c, job);
  });

  app.delete("/v1/jobs/:id", async (c) => {
    const id = v.jobId(c.req.param("id"));
    expectResult(await node.propose({ type: "cancel", id }), "cancelled");
    return c.json({ id, state: "cancelled" });
  });
}

/** Queues: their depths, config, pause and resume. */
function queueControlRoutes(app: Hono, ctx: ApiContext, body: ReadBody): void {
  const { node } = ctx;

  app.get("/v1/queues", async (c) => {
    const page = v.queuesPage(c.req.query());
    await readBarrier(c, ctx);
    const rows = node.queue.queueStats(page.after, page.limit + 1);
    const { shown, next } = pageOf(rows, page.limit, (q) => q.name);
    return c.json({ queues: shown, next });
  });

  app.get("/v1/queues/:queue", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    await readBarrier(c, ctx);
    return c.json(node.queue.queueView(queue));
  });

  app.put("/v1/queues/:queue/config", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const config = v.queueConfig(await body(c));
    const r = expectResult(await node.propose({ type: "configure", queue, config }), "configured");
    return c.json(r.config);
  });

  for (const [action, paused] of [["pause", true], ["resume", false]] as const) {
    app.post(`/v1/queues/:queue/${action}`, async (c) => {
      const queue = v.queueName(c.req.param("queue"));
      expectResult(await node.propose({ type: "pause", queue, paused }), "paused");
      // (answered from this node's state: a follower first applies what the leader applied)
      if (!node.isLeader) await node.readPoint();
      return c.json(node.queue.queueView(queue));
    });
  }
}

/** A queue's jobs, groups and dead letters: pages, purges and retries. */
function listingRoutes(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;

  app.get("/v1/queues/:queue/jobs", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const page = v.listPage(c.req.query());
    await readBarrier(c, ctx);
    return withUserJson(
      c,
      node.queue.listJobs(queue, page.state, page.limit, page.cursor, page.group),
    );
  });

  app.get("/v1/queues/:queue/groups", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const page = v.groupPage(c.req.query());
    await readBarrier(c, ctx);
    const rows = node.queue.groupPage(queue, page.after, page.limit + 1);
    const { shown, next } = pageOf(rows, page.limit, (g) => g.group);
    return c.json({ groups: shown, next });
  });

  app.delete("/v1/queues/:queue/jobs", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const state = v.purgeState(c.req.query("state"));
    const purged = await inEntries(Infinity, async (limit) => {
      const r = await node.propose({ type: "purge", queue, state, limit });
      return expectResult(r, "purged").purged;
    });
    return c.json({ purged });
  });

  app.post("/v1/queues/:queue/dead/retry", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const { limit } = v.retryDeadMany(await readOptionalJson(c, ctx.maxBodyBytes));
    const retried = await inEntries(limit ?? Infinity, async (chunk) => {
      const r = await node.propose({ type: "retryDeadMany", queue, limit: chunk });
      return expectResult(r, "retriedMany").retried;
    });
    return c.json({ retried });
  });

  app.get("/v1/queues/:queue/dead", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const page = v.deadPage(c.req.query("limit"), c.req.query("cursor"));
    await readBarrier(c, ctx);
    const r = node.queue.deadLetters(queue, page.limit, page.before);
    return withUserJson(c, { jobs: r.jobs, next: r.next });
  });

  app.post("/v1/queues/:queue/dead/:id/retry", async (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const id = v.jobId(c.req.param("id"));
    expectResult(await node.propose({ type: "retryDead", queue, id }), "retried");
    return c.json({ id, state: "ready" });
  });
}
