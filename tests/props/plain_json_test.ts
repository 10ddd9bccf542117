// Property: superjsonText writes exactly the bytes superjson writes, for any value.

import assert from "node:assert/strict";
import fc from "fast-check";
import superjson from "superjson";
import { isPlainJson, superjsonText } from "../../src/plain_json.ts";
import { encodeCommand } from "../../src/queue/commands.ts";
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

Deno.test("plain JSON: commands take the quick path; what needs annotations does not", () => {
  const job = { payload: '{"kind":"email"}', delayMs: 0, priority: 0, maxAttempts: 3 };
  const jobs = Array.from({ length: 1000 }, (_, k) => ({ ...job, priority: k % 3 }));
  const cmd = { type: "enqueue" as const, queue: "q", jobs };
  assert.equal(isPlainJson({ v: 2, stampMs: 1, cmd }), true);
  assert.equal(encodeCommand(cmd, 7), superjson.stringify({ v: 2, stampMs: 7, cmd }));
  const shared = { type: "enqueue" as const, queue: "q", jobs: [job, job] };
  assert.equal(isPlainJson(shared), false, "one object twice");
  assert.equal(encodeCommand(shared, 7), superjson.stringify({ v: 2, stampMs: 7, cmd: shared }));
  for (
    const odd of [undefined, NaN, -0, new Date(0), new RawJson("1"), [1, , 3], { a: undefined }]
  ) {
    assert.equal(isPlainJson({ x: odd }), false, String(odd));
  }
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  assert.equal(isPlainJson(deep), false, "too deep: left to superjson");
});
