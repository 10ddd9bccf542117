// Property: the hand-checked job shapes give exactly what the schemas give, or go to the schemas.

import assert from "node:assert/strict";
import fc from "fast-check";
import { plainBatch, plainJob } from "../../src/api/plain_jobs.ts";
import * as s from "../../src/api/schemas.ts";
import { RawJson } from "../../src/queue/json_text.ts";

/** Numbers at and around every limit a plain job's fields have, and values of other types. */
const oddValue = fc.oneof(
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(-0, 0.5, 9.0000001, NaN, Infinity, 2 ** 53, 999, 1000, 1001, 1e12),
  fc.constant(s.limits.maxDelayMs).chain((m) => fc.integer({ min: m - 1, max: m + 1 })),
  fc.string({ maxLength: 3 }),
  fc.constantFrom("x".repeat(128), "x".repeat(129), "é".repeat(128)),
  fc.constantFrom(null, undefined, true, [], {}, new RawJson("1")),
);

const fieldName = fc.constantFrom(
  "payload",
  "priority",
  "delayMs",
  "maxAttempts",
  "group",
  "ttlMs",
  "uniqueKey",
  "dependsOn",
  "__proto__",
  "Priority",
);

/** Jobs as the body parser makes them (objects without a prototype) or as code writes them. */
const job = fc.tuple(
  fc.option(fc.constantFrom(new RawJson('{"a":1}'), new RawJson("null"), "text"), {
    nil: undefined,
  }),
  fc.dictionary(fieldName, oddValue, { maxKeys: 4 }),
  fc.boolean(),
).map(([payload, fields, bare]) => {
  const out: Record<string, unknown> = bare ? Object.create(null) : {};
  if (payload !== undefined) out.payload = payload;
  for (const [k, v] of Object.entries(fields)) if (k !== "payload") out[k] = v;
  return out;
});

Deno.test("props: a job the fast path takes is the newJob schema's output", () => {
  let taken = 0;
  fc.assert(
    fc.property(job, (j) => {
      const fast = plainJob(j);
      if (fast === undefined) return;
      taken++;
      const r = s.newJob.safeParse(j);
      assert.ok(r.success, `the schema refuses what the fast path took: ${Deno.inspect(j)}`);
      assert.deepStrictEqual(fast, r.data);
    }),
    { numRuns: 5_000 },
  );
  assert.ok(taken > 100, `the fast path took ${taken} of 5,000 jobs`);
});

Deno.test("props: a batch the fast path takes is the batch schema's output", () => {
  const body = fc.tuple(fc.array(job, { minLength: 0, maxLength: 4 }), fc.boolean())
    .map(([jobs, extra]) => (extra ? { jobs, extra: 1 } : { jobs }));
  fc.assert(
    fc.property(body, (b) => {
      const fast = plainBatch(b);
      if (fast === undefined) return;
      const r = s.batch.safeParse(b);
      assert.ok(r.success, `the schema refuses what the fast path took: ${Deno.inspect(b)}`);
      assert.deepStrictEqual(fast, r.data.jobs);
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("plain jobs: the fill's shapes take the fast path, the limits' edges the schema", () => {
  const payload = new RawJson('{"to":"a@example.com"}');
  const jobs = Array.from(
    { length: s.limits.maxBatchJobs },
    (_, i) => ({ payload, priority: i % 10 }),
  );
  assert.equal(plainBatch({ jobs })?.length, s.limits.maxBatchJobs);
  assert.equal(plainBatch({ jobs: [...jobs, { payload }] }), undefined);
  assert.deepStrictEqual(plainJob({ payload, group: "g", maxAttempts: 3 }), {
    payload: '{"to":"a@example.com"}',
    delayMs: 0,
    priority: 0,
    maxAttempts: 3,
    group: "g",
  });
  assert.equal(plainJob({ payload, priority: 10 }), undefined);
  assert.equal(plainJob({ payload, idempotencyKey: "k" }), undefined);
});
