// The WAN benchmark's code path, briefly (so it cannot rot): proxies on every peer link, both clusters.

import assert from "node:assert/strict";
import { benchWan } from "../../scripts/bench/wan_bench.ts";

Deno.test("bench: the WAN rows run three nodes on loopback and three behind delaying proxies", async () => {
  const rows = await benchWan(300, 20);
  assert.deepEqual(rows.map((r) => r.conns), [1, 64, 256, 512]);
  for (const r of rows) {
    assert.ok(r.loopback.requests > 0 && r.wan.requests > 0, JSON.stringify(r));
    assert.equal(r.loopback.errors + r.wan.errors, 0, JSON.stringify(r));
    assert.ok(Number.isFinite(r.wanProxyCores) && r.wanProxyCores >= 0, JSON.stringify(r));
  }
});
