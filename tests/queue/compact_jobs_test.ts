// An enqueue of default jobs is logged as their payloads alone, and read back as the same jobs.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeCommand,
  encodeCommand,
  maxMergedJobs,
  type NewJob,
} from "../../src/queue/commands.ts";
import { expandPayloads, isDefaultJob, optionalJobFields } from "../../src/queue/compact_jobs.ts";

const job = (payload: string, extra: Partial<NewJob> = {}): NewJob => ({
  payload,
  delayMs: 0,
  priority: 0,
  ...extra,
});

/** A value of each optional field, as a route would set it. */
const setFields: Required<Pick<NewJob, typeof optionalJobFields[number]>> = {
  maxAttempts: 3,
  idempotencyKey: "k",
  idempotencyWindowMs: 1000,
  uniqueKey: "u",
  ttlMs: 1000,
  group: "g",
  dependsOn: ["1-0"],
  onFailure: "ignore",
};

Deno.test("compact jobs: a job is default only with no delay, priority 0 and no option set", () => {
  assert.equal(isDefaultJob(job("{}")), true);
  assert.equal(isDefaultJob(job("{}", { maxAttempts: undefined })), true, "undefined is unset");
  assert.equal(isDefaultJob(job("{}", { delayMs: 1 })), false);
  assert.equal(isDefaultJob(job("{}", { priority: 1 })), false);
  for (const field of optionalJobFields) {
    assert.equal(isDefaultJob(job("{}", { [field]: setFields[field] })), false, field);
  }
});

Deno.test("compact jobs: default jobs are logged as payloads, others whole, each read back", () => {
  const plain = ["{}", '{"a":"é \\"q\\""}', "[1,2]"].map((p) => job(p));
  const cmd = { type: "enqueue" as const, queue: "q", jobs: plain, parts: [1, 2] };
  const text = encodeCommand(cmd, 7);
  assert.ok(text.includes('"payloads":["{}"'), text);
  assert.ok(!text.includes("delayMs"), text);
  assert.deepEqual(decodeCommand(text), { v: 2, stampMs: 7, cmd });
  // One job that is not default: the whole batch is logged as jobs.
  const mixed = { ...cmd, jobs: [...plain, job("{}", { group: "g" })], parts: undefined };
  const whole = encodeCommand(mixed, 7);
  assert.ok(whole.includes('"jobs":[') && !whole.includes("payloads"), whole);
  const { parts: _, ...expected } = mixed;
  assert.deepEqual(decodeCommand(whole)?.cmd, expected);
});

Deno.test("compact jobs: a version 3 entry that is not a valid enqueue is no command", () => {
  const entry = (cmd: unknown) => JSON.stringify({ json: { v: 3, stampMs: 1, cmd } });
  const base = { type: "enqueue", queue: "q" };
  assert.ok(decodeCommand(entry({ ...base, payloads: ["{}"] })), "control");
  assert.equal(decodeCommand(entry({ ...base, payloads: [] })), null, "no job");
  assert.equal(decodeCommand(entry({ ...base, payloads: [1] })), null, "a payload not text");
  assert.equal(decodeCommand(entry({ ...base, payloads: "{}" })), null, "not a list");
  const most = Array(maxMergedJobs).fill("{}");
  assert.equal(
    decodeCommand(entry({ ...base, payloads: most }))?.cmd.type,
    "enqueue",
    "at the bound",
  );
  const over = [...most, "{}"];
  assert.equal(decodeCommand(entry({ ...base, payloads: over })), null, "one job over it");
  assert.equal(expandPayloads(over, maxMergedJobs), null, "refused before any job is made");
  const both = { ...base, payloads: ["{}"], jobs: [job("{}")] };
  assert.equal(decodeCommand(entry(both)), null, "payloads and jobs");
  // Version 2 entries (jobs whole) still read.
  const v2 = JSON.stringify({ json: { v: 2, stampMs: 1, cmd: { ...base, jobs: [job("{}")] } } });
  assert.deepEqual(decodeCommand(v2)?.cmd, { ...base, jobs: [job("{}")] });
});

Deno.test("props: an enqueue reads back as it was proposed, whatever its jobs", () => {
  const anyJob = fc.record({
    payload: fc.json(),
    delayMs: fc.constantFrom(0, 0, 0, 5),
    priority: fc.constantFrom(0, 0, 0, 9),
    group: fc.option(fc.constant("g"), { nil: undefined, freq: 4 }),
    maxAttempts: fc.option(fc.constant(2), { nil: undefined, freq: 4 }),
  });
  fc.assert(
    fc.property(fc.array(anyJob, { minLength: 1, maxLength: 20 }), (jobs) => {
      const cmd = { type: "enqueue" as const, queue: "q", jobs };
      const back = decodeCommand(encodeCommand(cmd, 3));
      // (a field left undefined is left out, as JSON leaves it)
      assert.deepEqual(back?.cmd, JSON.parse(JSON.stringify(cmd)));
      assert.equal(encodeCommand(cmd, 3).includes("payloads"), jobs.every(isDefaultJob));
    }),
    { numRuns: 500 },
  );
});
