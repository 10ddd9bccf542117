// A job's id names the seq it is stored under, and only that id finds the job.

import assert from "node:assert/strict";
import fc from "fast-check";
import { jobId, jobSeq, seqOfId, seqsPerEntry } from "../../src/queue/job_ids.ts";
import { withHarness } from "../helpers/queue_harness.ts";

Deno.test("job ids: each id names its seq; what cannot name a job is -1", () => {
  assert.equal(seqOfId(jobId(1, 0)), 10_000);
  assert.equal(seqOfId(jobId(123_456, 9_999)), jobSeq(123_456, 9_999));
  assert.equal(jobSeq(7, 3), 7 * seqsPerEntry + 3);
  for (
    const bad of [
      "",
      "1",
      "-1",
      "1-",
      "x-0",
      "1-x",
      "1-10000",
      "1--1",
      "1-0.5",
      "9e20-0",
      "999999999999-0",
    ]
  ) {
    assert.equal(seqOfId(bad), -1, bad);
  }
});

/** What seqOfId answered while it was a regular expression: its definition, kept to compare. */
function seqOfIdByPattern(id: string): number {
  const m = /^(\d{1,12})-(\d{1,4})$/.exec(id);
  const seq = m ? jobSeq(Number(m[1]), Number(m[2])) : -1;
  return Number.isSafeInteger(seq) ? seq : -1;
}

Deno.test("job ids: read by hand, an id gives what the pattern gave, for any text", () => {
  const idLike = fc.string({ unit: fc.constantFrom(..."0123456789-x+.:/ \u0660"), maxLength: 20 });
  fc.assert(
    fc.property(fc.oneof(idLike, fc.string()), (id) => {
      assert.equal(seqOfId(id), seqOfIdByPattern(id), JSON.stringify(id));
    }),
    { numRuns: 20_000 },
  );
  const edges = [
    "1-0",
    "000000000001-0001",
    "0000000000001-0",
    "1-00001",
    "900719925474-0",
    "900719925474-1",
    "1-99999",
    `${"1".repeat(12)}-1234`,
    `${"1".repeat(12)}-12345`,
    `${"1".repeat(10_000)}-0`,
  ];
  for (const edge of edges) {
    assert.equal(seqOfId(edge), seqOfIdByPattern(edge), edge);
  }
});

Deno.test("job ids: a lookalike of a job's id finds nothing and changes nothing", () =>
  withHarness((h) => {
    h.enqueue(1, "q", { payload: "a" });
    assert.equal(h.sm.getJob("1-0")?.id, "1-0");
    for (const lookalike of ["1-00", "01-0", "1-0x", " 1-0", "1-0e0", "+1-0", "1.0-0"]) {
      assert.equal(h.sm.getJob(lookalike), null, lookalike);
      const r = h.apply(2, { type: "cancel", id: lookalike });
      assert.equal(r.type === "error" && r.code, "not_found", lookalike);
    }
    assert.equal(h.sm.getJob("1-0")?.state, "ready");
  }));
