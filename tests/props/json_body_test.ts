// Property: the body parser reads any JSON as JSON.parse does, and refuses what JSON.parse refuses.

import assert from "node:assert/strict";
import fc from "fast-check";
import { JsonBodyError, parseBody } from "../../src/api/json_body.ts";
import { RawJson } from "../../src/queue/json_text.ts";

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

/** JSON text of `values` with one character replaced by one of `cuts` (often no longer JSON). */
const nearJson = (values: fc.Arbitrary<unknown>, cuts: readonly string[]) =>
  fc.tuple(values, fc.nat(), fc.constantFrom(...cuts)).map(([v, at, cut]) => {
    const text = JSON.stringify(v);
    const k = at % (text.length + 1);
    return text.slice(0, k) + cut + text.slice(k + 1);
  });

/** Whether JSON.parse reads `text`. */
function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

Deno.test("props: a body JSON.parse refuses is refused, never read", () => {
  const near = nearJson(value, ["", '"', "\\", ",", "}", "tru", "\u0001"]);
  fc.assert(
    fc.property(near, (text) => {
      if (parses(text)) return; // (a cut that left valid JSON)
      assert.throws(() => parseBody(text), JsonBodyError, text);
    }),
    { numRuns: 3_000 },
  );
});

/** Users' JSON as payloads mostly are: one object of scalars (read by one regex when it can). */
const flat = fc.dictionary(
  fc.string(),
  fc.oneof(
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  ),
);
const payload = fc.oneof(flat, value);

/** The body around a payload, read with the payload as users' JSON (opaque). */
const readPayload = (text: string) => parseBody(`{"payload":${text}}`, ["payload"]);

Deno.test("props: users' JSON is kept as its exact text, and read as JSON.parse reads it", () => {
  fc.assert(
    fc.property(payload, fc.boolean(), (v, space) => {
      const text = space ? spaced(JSON.stringify(v)) : JSON.stringify(v);
      const raw = (readPayload(text) as { payload: unknown }).payload;
      assert.ok(raw instanceof RawJson, text);
      assert.equal(raw.text, text.trim()); // (the spacing around it is the body's)
      assert.deepEqual(JSON.parse(raw.text), JSON.parse(text));
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("props: users' JSON that JSON.parse refuses is refused, with the same error either way", () => {
  const near = nearJson(payload, ["", '"', "\\", ",", "}", "{", "tru", "01", "-", "\u0001"]);
  fc.assert(
    fc.property(near, (text) => {
      if (parses(`{"payload":${text}}`)) return void assert.ok(readPayload(text), text);
      // Refused as when the value is read as the request's own field (no fast path there). A
      // repeated key is refused only among the request's own fields (users' JSON may repeat one,
      // as JSON.parse allows): where that read stops at one, users' JSON is refused further on.
      let own = "";
      assert.throws(() => parseBody(`{"payload":${text}}`), (e: Error) => (own = e.message) !== "");
      const repeated = own.startsWith("duplicate field");
      const same = (e: Error) => e instanceof JsonBodyError && (repeated || e.message === own);
      assert.throws(() => readPayload(text), same, text);
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("json body: users' JSON may repeat a key; refused further on, it says where", () => {
  // (a counterexample the property above found: a repeated key before an unterminated string)
  const text = '[{"":false,"a":1,"":  ":-1}]';
  assert.throws(() => parseBody(`{"payload":${text}}`), /duplicate field ""/);
  assert.throws(() => readPayload(text), (e: Error) => /unterminated string/.test(e.message));
  const repeated = (readPayload('{"a":1,"a":2}') as { payload: RawJson }).payload;
  assert.equal(repeated.text, '{"a":1,"a":2}');
});

Deno.test("json body: a flat payload holding a number or word JSON lacks is refused", () => {
  const bad = [
    "01",
    "-",
    "1.",
    ".5",
    "1e",
    "+1",
    "0x1",
    "1.e5",
    "-01",
    "tru",
    "nul",
    "True",
    "'a'",
  ];
  for (const token of bad) {
    for (
      const text of [`{"a":${token}}`, `{"a":1, "b" : ${token} }`, `{"a":"x","b":${token},"c":2}`]
    ) {
      assert.throws(() => readPayload(text), JsonBodyError, text);
    }
  }
  for (
    const text of [`{"a":0,"b":-0.5e+7,"c":1E3,"d":true,"e":null,"f":""}`, "{ }", `{"a" : "b" }`]
  ) {
    assert.equal((readPayload(text) as { payload: RawJson }).payload.text, text);
  }
});

Deno.test("props: a body's objects have no prototype: a client's keys stay its own", () => {
  const body = parseBody(
    '{"__proto__":{"polluted":1},"constructor":2,"jobs":[{"toString":3,"payload":{"x":1}}]}',
    ["jobs.*.payload"],
  ) as Record<string, unknown>;
  for (const obj of [body, body.__proto__, (body.jobs as Record<string, unknown>[])[0]]) {
    assert.equal(Object.getPrototypeOf(obj), null);
  }
  assert.deepEqual(Object.keys(body), ["__proto__", "constructor", "jobs"]);
  assert.deepEqual({ ...(body.__proto__ as object) }, { polluted: 1 });
  assert.equal(body.constructor, 2);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype untouched");
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.integer()), (keys) => {
      const parsed = parseBody(JSON.stringify(keys)) as object;
      assert.equal(Object.getPrototypeOf(parsed), null);
      assert.deepEqual(Object.keys(parsed).sort(), Object.keys(keys).sort());
    }),
  );
});
