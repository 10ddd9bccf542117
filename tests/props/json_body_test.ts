// Property: the body parser reads any JSON as JSON.parse does, and refuses what JSON.parse refuses.

import assert from "node:assert/strict";
import fc from "fast-check";
import { JsonBodyError, parseBody } from "../../src/api/json_body.ts";

/** JSON values within the envelope's depth, with keys and strings that need escapes. */
const value = fc.jsonValue({ maxDepth: 5 });

/** Spaces, tabs and newlines beside the punctuation (in strings too: both parsers read it). */
const spaced = (text: string) =>
  text.replace(/([,:[\]{}])(?=(?:[^"\\]|\\.|"(?:[^"\\]|\\.)*")*$)/g, " $1\n\t");

Deno.test("props: a body reads as JSON.parse reads it, escapes and spacing included", () => {
  fc.assert(
    fc.property(value, fc.boolean(), (v, space) => {
      const text = space ? spaced(JSON.stringify(v)) : JSON.stringify(v);
      assert.equal(JSON.stringify(parseBody(text)), JSON.stringify(JSON.parse(text)), text);
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("props: a body JSON.parse refuses is refused, never read", () => {
  const near = fc.tuple(value, fc.nat(), fc.constantFrom("", '"', "\\", ",", "}", "tru", "\u0001"))
    .map(([v, at, cut]) => {
      const text = JSON.stringify(v);
      const k = at % (text.length + 1);
      return text.slice(0, k) + cut + text.slice(k + 1);
    });
  fc.assert(
    fc.property(near, (text) => {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      if (valid) return; // (a cut that left valid JSON)
      assert.throws(() => parseBody(text), JsonBodyError, text);
    }),
    { numRuns: 3_000 },
  );
});
