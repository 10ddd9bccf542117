// The cluster bench's raftq side, briefly (so it cannot rot): CPU, log fsyncs and write stages.

import assert from "node:assert/strict";
import { headline, raftqSession } from "../../scripts/bench/cluster_bench.ts";
import { writeStages } from "../../src/node/write_trace.ts";

Deno.test("bench: a raftq row reads its CPU, its log fsyncs and where its writes' time went", async () => {
  const session = await raftqSession(600, [headline], "wrk");
  const row = session.get(headline)!;
  assert.ok(row.requests > 0 && row.errors === 0, JSON.stringify(row));
  assert.equal(row.processCpuUsPerRequest.length, 3);
  assert.ok(row.serverCpuUsPerRequest > 0);
  // The three servers' log fsyncs over the row, each of them timed.
  assert.ok(row.walFsyncs.perRequest > 0, JSON.stringify(row));
  assert.ok(row.walFsyncs.meanMs > 0);
  const stages = row.writeStagesMs;
  assert.ok(stages, "the leader followed writes");
  assert.equal(stages.length, writeStages.length);
  const at = (s: typeof writeStages[number]) => stages[writeStages.indexOf(s)];
  // Each followed entry: sent before it is written, written before it is flushed or applied.
  assert.ok(at("sent") <= at("written"), JSON.stringify(stages));
  assert.ok(at("written") <= at("flushed"), JSON.stringify(stages));
  assert.ok(at("written") <= at("committed") && at("committed") <= at("applied"));
});
