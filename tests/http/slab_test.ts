// Body copies carved from slabs: equal to what was read, never sharing bytes with another copy,
// and let go by the request once read.

import assert from "node:assert/strict";
import { Hono } from "hono";
import { readRaw } from "../../src/api/body.ts";
import { EdgeRequest } from "../../src/http/request.ts";
import { copyBody } from "../../src/http/slab.ts";

Deno.test("slab: copies outlive and never overlap their source or each other", () => {
  const read = new Uint8Array(4096);
  const copies: [Uint8Array, number][] = [];
  // Enough small bodies to span several slabs, each read into the same reused buffer.
  for (let i = 0; i < 2_000; i++) {
    const size = 1 + (i * 37) % 300;
    read.fill(i % 251, 0, size);
    copies.push([copyBody(read.subarray(0, size)), i % 251]);
  }
  read.fill(255);
  for (const [copy, value] of copies) assert.ok(copy.every((b) => b === value));
  const large = new Uint8Array(5_000).fill(7);
  const copy = copyBody(large);
  large.fill(0);
  assert.equal(copy.byteOffset, 0, "a large body gets a buffer of its own");
  assert.ok(copy.every((b) => b === 7));
});

Deno.test("slab: a request lets go of its body once its reader took it (no slab held by a poll)", async () => {
  const body = copyBody(new TextEncoder().encode('{"worker":"w","waitMs":20000}'));
  const request = new EdgeRequest("POST", "http://x/v1/queues/q/claim", {}, body);
  const app = new Hono();
  let held: EdgeRequest | undefined;
  app.post("/v1/queues/:queue/claim", async (c) => {
    const bytes = await readRaw(c, 1024);
    held = c.req.raw as unknown as EdgeRequest; // (what a long poll keeps while it waits)
    return c.text(new TextDecoder().decode(bytes));
  });
  const res = await app.fetch(request as unknown as Request);
  assert.equal(await res.text(), '{"worker":"w","waitMs":20000}');
  assert.equal(held, request);
  assert.throws(() => request.takeBody(), /read already/, "the request no longer holds the bytes");
  assert.equal(request.native().body, null);
  const untaken = new EdgeRequest("POST", "http://x/", {}, body);
  assert.deepEqual(await untaken.native().bytes(), body, "a fetch Request carries an untaken body");
  assert.throws(() => untaken.takeBody(), /read already/, "one reader: the fetch Request's");
});
