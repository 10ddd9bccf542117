// Property: whatever arrives on a peer link, only well-formed frames come out of decodeFrame.

import assert from "node:assert/strict";
import fc from "fast-check";
import superjson from "superjson";
import { type Message, parseMessage } from "../../src/raft/mod.ts";
import { decodeFrame, encodeFrame, type Frame } from "../../src/transport/frames.ts";

const id = fc.constantFrom("a", "b", "", "x".repeat(300));
const num = fc.oneof(
  fc.nat(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, Infinity, NaN),
);
const anyField = fc.oneof(num, fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.nat()));
const entry = fc.record({
  index: num,
  term: num,
  kind: fc.constantFrom("normal", "noop", "conf", "evil"),
  data: fc.oneof(fc.string(), num),
}, { requiredKeys: [] });
/** Message-shaped values: the right keys with values right or wrong, some keys missing. */
const messageLike = fc.record({
  type: fc.constantFrom(
    "append",
    "appendResp",
    "vote",
    "voteResp",
    "heartbeat",
    "snapshot",
    "bogus",
  ),
  term: num,
  from: id,
  to: id,
  prevIndex: num,
  prevTerm: num,
  commit: num,
  entries: fc.oneof(fc.array(entry, { maxLength: 3 }), anyField),
  preVote: fc.oneof(fc.boolean(), anyField),
  readSeq: num,
  extra: anyField,
}, { requiredKeys: [] });
const frameLike = fc.oneof(
  fc.record({
    t: fc.constant("raft"),
    ms: fc.oneof(fc.array(messageLike, { maxLength: 4 }), anyField),
  }),
  fc.record({ t: fc.constantFrom("ping", "pong", "hello"), sentMs: num, echoMs: num, atMs: num }, {
    requiredKeys: ["t"],
  }),
  fc.record({
    t: fc.constantFrom("prop", "propResult", "read"),
    id: num,
    cmd: anyField,
    result: fc.oneof(fc.record({ type: anyField }), anyField),
    error: fc.oneof(
      fc.record({ code: anyField, message: anyField, retryAfterSeconds: num }, {
        requiredKeys: [],
      }),
      anyField,
    ),
  }, { requiredKeys: ["t"] }),
  fc.anything(),
);
/** superjson refuses to encode keys such as "prototype"; such values go as plain JSON. */
function superjsonText(f: unknown): string {
  try {
    return superjson.stringify(f);
  } catch {
    return JSON.stringify(f) ?? "null";
  }
}
/** superjson's own metadata naming prototype paths: refused by its parser, never thrown out. */
const hostileMeta = fc.constantFrom(
  '{"json":{"t":"ping","sentMs":1},"meta":{"values":{"__proto__.polluted":["undefined"]}}}',
  '{"json":{"t":"raft","ms":[]},"meta":{"values":{"constructor.prototype.x":["Date"]}}}',
  '{"json":{"t":"pong"},"meta":{"referentialEqualities":{"__proto__":["t"]}}}',
);
/** A valid binary frame (an append of a few entries) with some of its bytes changed. */
const validBinary = encodeFrame({
  t: "raft",
  ms: [{
    type: "append",
    term: 2,
    from: "a",
    to: "b",
    prevIndex: 1,
    prevTerm: 1,
    commit: 1,
    entries: [2, 3, 4].map((index) => ({ index, term: 2, kind: "normal", data: `d${index} é` })),
  } as unknown as Message],
}) as Uint8Array;
const mutatedBinary = fc.array(fc.tuple(fc.nat(validBinary.length - 1), fc.nat(255)), {
  minLength: 1,
  maxLength: 4,
}).map((edits) => {
  const b = validBinary.slice();
  for (const [at, value] of edits) b[at] = value;
  return b;
});
const wire = fc.oneof(
  frameLike.map(superjsonText),
  hostileMeta,
  frameLike.map((f) => JSON.stringify(f) ?? "null"),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 16 }).map((tail) =>
    new Uint8Array([1, 0, 0, 0, 2, 123, 125, ...tail])
  ),
  mutatedBinary,
);

Deno.test("props: decodeFrame never throws and lets through only valid frames", () => {
  fc.assert(
    fc.property(wire, (data) => {
      const frame = decodeFrame(data);
      if (frame === null) return;
      if (frame.t === "raft") {
        assert.ok(frame.ms.length > 0);
        for (const m of frame.ms) {
          const parsed = parseMessage(m);
          assert.ok(parsed.ok, `a message passed unvalidated: ${JSON.stringify(m)}`);
          assert.deepEqual(parsed.value, m);
        }
      } else if (frame.t === "ping" || frame.t === "pong") {
        const times = frame.t === "ping" ? [frame.sentMs] : [frame.echoMs, frame.atMs];
        for (const t of times) assert.ok(Number.isSafeInteger(t) && t >= 0);
      } else {
        assert.ok(Number.isSafeInteger(frame.id) && frame.id >= 0);
        if (frame.t === "prop") assert.equal(typeof frame.cmd, "string");
        else if (frame.t === "read") assert.deepEqual(Object.keys(frame), ["t", "id"]);
        else if ("error" in frame) assert.equal(typeof frame.error.code, "string");
        else assert.equal(typeof frame.result.type, "string");
      }
      // What decodes also survives its own encoding unchanged.
      assert.deepEqual(decodeFrame(encodeFrame(frame as Frame)), frame);
    }),
    { numRuns: 3000 },
  );
  assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
});
