// Event chunks shared by streams at the same place: kept until the next apply, within a byte budget.

import assert from "node:assert/strict";
import { maxSharedBytes, SharedChunks } from "../../src/api/event_stream.ts";
import type { QueueReads } from "../../src/node/facade.ts";

Deno.test("shared chunks: one read a place until the next apply; never past the byte budget", () => {
  let reads = 0;
  const reader = {
    appliedIndex: 7,
    readEvents(queue: string, after: { index: number }) {
      reads++;
      // A chunk of 500 events, each with an error of 10,000 characters: about 5 MB.
      const events = Array.from({ length: 500 }, (_, k) => ({
        id: `${after.index + 1}:${k}`,
        type: "nacked",
        index: after.index + 1,
        queue,
        jobId: "1-0",
        state: "ready",
        attempt: 1,
        at: 0,
        error: "e".repeat(10_000),
      }));
      return { events, next: { index: after.index + 1, k: Infinity } };
    },
  } as unknown as QueueReads & { appliedIndex: number };
  const chunks = new SharedChunks(reader);
  const a = chunks.get("q", { index: 1, k: Infinity });
  assert.ok(a.bytes.length > maxSharedBytes / 2, `a chunk of ${a.bytes.length} bytes`);
  assert.equal(chunks.get("q", { index: 1, k: Infinity }), a, "the same place: shared");
  assert.equal(reads, 1);
  for (let place = 2; place < 50; place++) {
    chunks.get("q", { index: place, k: Infinity });
    assert.ok(chunks.bytes <= maxSharedBytes, `${chunks.bytes} bytes kept at place ${place}`);
  }
  reader.appliedIndex = 8;
  chunks.get("q", { index: 1, k: Infinity });
  assert.equal(reads, 50, "an apply: read again");
});
