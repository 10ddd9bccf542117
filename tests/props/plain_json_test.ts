// Property: superjsonText writes exactly the bytes superjson writes, for any value.

import assert from "node:assert/strict";
import fc from "fast-check";
import superjson from "superjson";
import { isPlainJson, superjsonText } from "../../src/plain_json.ts";
import { decodeCommand, encodeCommand } from "../../src/queue/commands.ts";
import { RawJson } from "../../src/queue/json_text.ts";

const outcome = (f: () => string) => {
  try {
    return f();
  } catch (err) {
    return `threw ${(err as Error).message}`;
  }
};

/** JSON values, and the values JSON does not carry as they are, nested anywhere. */
const anyValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(undefined, NaN, -0, Infinity, 10n, new Date(0), new Map([[1, 2]])),
    fc.constantFrom(new RawJson('{"a": 1}'), JSON.parse('{"__proto__": 1}'), [1, , 3]),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "prototype")),
      tie("value"),
      { maxKeys: 4 },
    ),
    // The same object twice: superjson notes it (referentialEqualities).
    tie("value").map((x) => [x, { k: x }, x]),
  ),
})).value;

Deno.test("props: superjsonText is superjson's text, byte for byte, or the same refusal", () => {
  fc.assert(
    fc.property(anyValue, (v) => {
      const expected = outcome(() => superjson.stringify(v));
      assert.equal(outcome(() => superjsonText(v, (x) => superjson.stringify(x))), expected);
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("props: with undefined fields dropped, the text is JSON's, or superjson's when more is odd", () => {
  fc.assert(
    fc.property(anyValue, (v) => {
      const stringify = (x: unknown) => superjson.stringify(x);
      const out = outcome(() => superjsonText(v, stringify, { dropUndefinedFields: true }));
      if (!isPlainJson(v, { dropUndefinedFields: true })) {
        assert.equal(out, outcome(() => superjson.stringify(v)));
        return;
      }
      assert.equal(out, JSON.stringify({ json: v }));
      // What a reader gets back: the value, its undefined fields left out (JSON's round trip).
      assert.deepEqual(superjson.parse(out), JSON.parse(JSON.stringify(v)));
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("plain JSON: a command's field left undefined is left out, the rest as it was", () => {
  const cmd = { type: "claim" as const, queue: "q", worker: "w", max: 2, leaseMs: undefined };
  const data = encodeCommand(cmd, 7);
  assert.equal(
    data,
    '{"json":{"v":3,"stampMs":7,"cmd":{"type":"claim","queue":"q","worker":"w","max":2}}}',
  );
  assert.deepEqual(decodeCommand(data), {
    v: 2,
    stampMs: 7,
    cmd: { type: "claim", queue: "q", worker: "w", max: 2 },
  });
  // An entry superjson annotated (before this) still decodes to the same command.
  const old = superjson.stringify({ v: 2, stampMs: 7, cmd });
  assert.match(old, /"meta"/);
  assert.equal(decodeCommand(old)?.cmd.type, "claim");
  assert.equal((decodeCommand(old)?.cmd as { leaseMs?: number }).leaseMs, undefined);
  // Elsewhere an undefined value still needs superjson: in an array, or the value itself.
  assert.equal(isPlainJson({ a: [1, undefined] }, { dropUndefinedFields: true }), false);
  assert.equal(isPlainJson(undefined, { dropUndefinedFields: true }), false);
});

Deno.test("plain JSON: commands take the quick path; what needs annotations does not", () => {
  const job = { payload: '{"kind":"email"}', delayMs: 0, priority: 0, maxAttempts: 3 };
  const jobs = Array.from({ length: 1000 }, (_, k) => ({ ...job, priority: k % 3 }));
  const cmd = { type: "enqueue" as const, queue: "q", jobs };
  assert.equal(isPlainJson({ v: 3, stampMs: 1, cmd }), true);
  assert.equal(encodeCommand(cmd, 7), superjson.stringify({ v: 3, stampMs: 7, cmd }));
  const shared = { type: "enqueue" as const, queue: "q", jobs: [job, job] };
  assert.equal(isPlainJson(shared), false, "one object twice");
  assert.equal(encodeCommand(shared, 7), superjson.stringify({ v: 3, stampMs: 7, cmd: shared }));
  for (
    const odd of [undefined, NaN, -0, new Date(0), new RawJson("1"), [1, , 3], { a: undefined }]
  ) {
    assert.equal(isPlainJson({ x: odd }), false, String(odd));
  }
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  assert.equal(isPlainJson(deep), false, "too deep: left to superjson");
});
