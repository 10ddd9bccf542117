// The cached router answers as the trie does, for repeated and for ever-new paths, within its bound.

import assert from "node:assert/strict";
import { Hono } from "hono";
import { cachedPaths, CachedRouter, longestCachedPath } from "../../src/api/cached_router.ts";

Deno.test("cached router: params never leak between paths; the cache stays bounded", async () => {
  const router = new CachedRouter<never>();
  const app = new Hono({ router: router as never });
  app.get("/v1/jobs/:id", (c) => c.text(`job ${c.req.param("id")}`));
  app.post("/v1/queues/:queue/jobs", (c) => c.text(`enqueue ${c.req.param("queue")}`));
  app.post("/v1/queues/:queue/dead/retry", (c) => c.text(`retry all ${c.req.param("queue")}`));
  app.post("/v1/queues/:queue/dead/:id/retry", (c) => c.text(`retry ${c.req.param("id")}`));
  const text = async (method: string, path: string) =>
    await (await app.request(path, { method })).text();
  for (let round = 0; round < 2; round++) {
    assert.equal(await text("GET", "/v1/jobs/a"), "job a");
    assert.equal(await text("GET", "/v1/jobs/b"), "job b");
    assert.equal(await text("POST", "/v1/queues/q1/jobs"), "enqueue q1");
    assert.equal(await text("POST", "/v1/queues/q2/jobs"), "enqueue q2");
    assert.equal(await text("POST", "/v1/queues/q/dead/retry"), "retry all q");
    assert.equal(await text("POST", "/v1/queues/q/dead/7/retry"), "retry 7");
    assert.equal((await app.request("/v1/jobs/a", { method: "POST" })).status, 404);
  }
  for (let i = 0; i < 3_000; i++) assert.equal(await text("GET", `/v1/jobs/j${i}`), `job j${i}`);
  assert.equal(router.size, cachedPaths, "the cache stays at its bound");
  assert.equal(await text("GET", "/v1/jobs/a"), "job a");
});

Deno.test("cached router: a path over the longest remembered is matched, not remembered", async () => {
  const router = new CachedRouter<never>();
  const app = new Hono({ router: router as never });
  app.get("/v1/jobs/:id", (c) => c.text(`job ${c.req.param("id").length}`));
  const at = (n: number) => `/v1/jobs/${"j".repeat(n - "/v1/jobs/".length)}`;
  const text = async (path: string) => await (await app.request(path)).text();
  assert.equal(await text(at(longestCachedPath)), `job ${longestCachedPath - 9}`);
  assert.equal(router.size, 1, "a path at the bound is remembered");
  assert.equal(await text(at(longestCachedPath + 1)), `job ${longestCachedPath - 8}`);
  assert.equal(await text(at(16_000)), "job 15991");
  assert.equal(router.size, 1, "longer ones are not");
});
