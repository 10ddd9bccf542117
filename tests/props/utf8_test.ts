// Property: decodeUtf8 gives what the fatal TextDecoder gives, and null where it throws.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeUtf8 } from "../../src/utf8.ts";

/** What the fatal decoder makes of `bytes`, or null where it throws. */
function fatal(bytes: Uint8Array, keepBom: boolean): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: keepBom }).decode(bytes);
  } catch {
    return null;
  }
}

/** Text of every width, a byte order mark in front now and then, as bytes; some bytes changed. */
const bytes = fc.tuple(
  fc.boolean(),
  fc.string({ unit: "binary" }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
).map(([bom, text, changes]) => {
  const b = new TextEncoder().encode((bom ? "\ufeff" : "") + text);
  for (const [at, value] of changes) if (b.length > 0) b[at % b.length] = value;
  return b;
});

Deno.test("props: decodeUtf8 reads what the fatal decoder reads, refuses what it refuses", () => {
  fc.assert(
    fc.property(bytes, fc.boolean(), fc.nat(), (b, keepBom, cut) => {
      const view = b.subarray(cut % (b.length + 1)); // (a view inside a larger buffer, as frames are)
      assert.equal(decodeUtf8(view, keepBom), fatal(view, keepBom));
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("utf8: surrogates, overlong forms and code points past U+10FFFF are refused", () => {
  for (const bad of [[0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
    assert.equal(decodeUtf8(new Uint8Array(bad)), null, bad.join(" "));
  }
  assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), true), "\ufeffa");
  assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), "a");
});
