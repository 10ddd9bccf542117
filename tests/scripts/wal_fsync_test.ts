// The cluster bench's fsync reading: a histogram's totals from /metrics, a row's share of them.

import assert from "node:assert/strict";
import { fsyncTotalsOf, withWalFsyncs } from "../../scripts/bench/wal_fsync.ts";

const name = "etcd_disk_wal_fsync_duration_seconds";

Deno.test("bench: a histogram's count and sum are read, and nothing else", () => {
  const text = [
    `# HELP ${name} The latency distributions of fsync called by WAL.`,
    `# TYPE ${name} histogram`,
    `${name}_bucket{le="0.001"} 8552`,
    `${name}_bucket{le="+Inf"} 9069`,
    `${name}_sum 5.359107785000041`,
    `${name}_count 9069`,
    `${name}_count_other 7`,
    `other_${name}_count 3`,
  ].join("\n");
  assert.deepEqual(fsyncTotalsOf(text, name), { count: 9069, seconds: 5.359107785000041 });
  assert.deepEqual(fsyncTotalsOf("up 1\n", name), { count: 0, seconds: 0 }, "absent: none");
  assert.deepEqual(fsyncTotalsOf(`${name}_count NaN\n`, name), { count: 0, seconds: 0 });
});

Deno.test("bench: a row's fsyncs are the servers' growth over it, per request", async () => {
  const counts = [0, 0];
  const servers = counts.map((_, k) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(`${name}_sum ${counts[k] * 0.002}\n${name}_count ${counts[k]}\n`),
    )
  );
  const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const goneUrl = `http://127.0.0.1:${gone.addr.port}`;
  gone.close();
  try {
    counts[0] = 10; // before the row: not counted
    const urls = [...servers.map((s) => `http://127.0.0.1:${s.addr.port}`), goneUrl];
    const { result, fsyncs } = await withWalFsyncs(urls, name, () => {
      counts[0] += 3;
      counts[1] += 5;
      return Promise.resolve({ requests: 16 });
    });
    assert.equal(result.requests, 16);
    assert.equal(fsyncs.perRequest, 8 / 16, "both servers' fsyncs, an unreachable one none");
    assert.ok(Math.abs(fsyncs.meanMs - 2) < 1e-9, `${fsyncs.meanMs} ms`);
    const idle = await withWalFsyncs(urls, name, () => Promise.resolve({ requests: 0 }));
    assert.deepEqual(idle.fsyncs, { perRequest: 0, meanMs: 0 });
  } finally {
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});
