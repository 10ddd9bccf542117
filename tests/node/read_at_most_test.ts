// A stream read whole within a limit: at the limit it is all there; one byte past, nothing is kept.

import assert from "node:assert/strict";
import { readAtMost } from "../../src/buffers.ts";

/** A stream of `chunks` bytes each (their values count up), and whether it was cancelled. */
function streamOf(chunkSizes: number[]) {
  const seen = { cancelled: false };
  let next = 0;
  let value = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next === chunkSizes.length) return controller.close();
      controller.enqueue(Uint8Array.from({ length: chunkSizes[next++] }, () => value++ & 0xff));
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

Deno.test("readAtMost: every byte at the limit, in order; null one past it, the stream cancelled", async () => {
  const at = streamOf([3, 0, 4, 3]);
  const whole = await readAtMost(at.stream, 10);
  assert.deepEqual(whole, Uint8Array.from({ length: 10 }, (_, k) => k));
  assert.equal(at.seen.cancelled, false);

  const past = streamOf([3, 4, 4, 100]);
  assert.equal(await readAtMost(past.stream, 10), null);
  assert.equal(past.seen.cancelled, true, "the rest is not read");

  assert.deepEqual(await readAtMost(streamOf([]).stream, 0), new Uint8Array());
});
