// The profile benchmark's summary: self time by where each function lives, from V8's samples.

import assert from "node:assert/strict";
import { summarise } from "../../scripts/bench/profile_bench.ts";

Deno.test("bench: a CPU profile's samples become self time by category and by function", () => {
  const frame = (id: number, functionName: string, url: string) => ({
    id,
    callFrame: { functionName, url },
  });
  const profile = {
    nodes: [
      frame(1, "(idle)", ""),
      frame(2, "writev", ""),
      frame(3, "step", "file:///repo/src/raft/raft.ts"),
      frame(4, "run", ""),
      frame(5, "handler", "file:///repo/src/api/queue_routes.ts"),
      frame(6, "op_write", ""),
      frame(7, "parseHead", "file:///repo/src/http/head.ts"),
    ],
    samples: [1, 2, 2, 3, 4, 5, 5, 5, 6, 7],
    timeDeltas: [1000, 1000, 1000, 500, 2000, 1000, 1000, 1000, 4000, 250],
  };
  const { cats, fns } = summarise(profile);
  assert.equal(cats.get("idle"), 1);
  // Deno's socket op and a plain writev are one category: where a loopback write's wake-up goes.
  assert.equal(cats.get("socket reads and writes (op_write, op_read, native)"), 6);
  assert.equal(cats.get("HTTP server (src/http)"), 0.25);
  assert.equal(cats.get("other native functions"), undefined);
  assert.equal(cats.get("Raft core (src/raft)"), 0.5);
  assert.equal(cats.get("SQLite statements (node:sqlite, native)"), 2);
  assert.equal(cats.get("API routes, validation (src/api, hono, zod)"), 3);
  assert.equal(fns.get("handler api/queue_routes.ts"), 3);
});
