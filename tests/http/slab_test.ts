// Body copies carved from slabs: equal to what was read, never sharing bytes with another copy.

import assert from "node:assert/strict";
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
