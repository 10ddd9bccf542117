// The storage bench's compaction table, briefly (so it cannot rot): covered rows go a piece a write.

import assert from "node:assert/strict";
import { benchCompaction } from "../../scripts/bench/storage_bench.ts";

Deno.test("bench: the compaction rows delete the covered log a bounded piece per write", async () => {
  const [small, large] = await benchCompaction(true);
  assert.equal(small.entries, 10_000);
  // At most 256 rows a write: 10,000 covered rows take at least 40 writes.
  assert.ok(small.writes >= Math.ceil(10_000 / 256), JSON.stringify(small));
  // About 1 MiB a write: six rows of 150 KB fit, so 40 take at least 7 writes.
  assert.ok(large.writes >= Math.ceil(40 / 6), JSON.stringify(large));
  for (const r of [small, large]) {
    assert.ok(r.compactMs >= 0 && r.longestWriteMs > 0 && r.plainWriteMs > 0, JSON.stringify(r));
  }
});
