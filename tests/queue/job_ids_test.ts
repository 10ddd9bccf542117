// A job's id names the seq it is stored under, and only that id finds the job.

import assert from "node:assert/strict";
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
