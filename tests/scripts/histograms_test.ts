// The cluster bench's histogram reading: a series' totals from /metrics, a row's growth of them.

import assert from "node:assert/strict";
import { meanMs, totalsOf, walFsyncsOf, withHistograms } from "../../scripts/bench/histograms.ts";

const name = "etcd_disk_wal_fsync_duration_seconds";

Deno.test("bench: a series' count and sum are read, and nothing else", () => {
  const text = [
    `# HELP ${name} The latency distributions of fsync called by WAL.`,
    `# TYPE ${name} histogram`,
    `${name}_bucket{le="0.001"} 8552`,
    `${name}_bucket{le="+Inf"} 9069`,
    `${name}_sum 5.359107785000041`,
    `${name}_count 9069`,
    `${name}_count_other 7`,
    `other_${name}_count 3`,
    `raftq_write_stage_seconds_sum{stage="sent"} 0.5`,
    `raftq_write_stage_seconds_count{stage="sent"} 4`,
    `raftq_write_stage_seconds_count{stage="sent_late"} 9`,
  ].join("\n");
  assert.deepEqual(totalsOf(text, { name }), { count: 9069, seconds: 5.359107785000041 });
  assert.deepEqual(
    totalsOf(text, { name: "raftq_write_stage_seconds", labels: '{stage="sent"}' }),
    { count: 4, seconds: 0.5 },
  );
  assert.deepEqual(totalsOf("up 1\n", { name }), { count: 0, seconds: 0 }, "absent: none");
  assert.deepEqual(totalsOf(`${name}_count NaN\n`, { name }), { count: 0, seconds: 0 });
});

Deno.test("bench: a row's growth of each series, over every server", async () => {
  const counts = [0, 0];
  const servers = counts.map((_, k) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
      new Response(
        `${name}_sum ${counts[k] * 0.002}\n${name}_count ${counts[k]}\n` +
          `x_seconds_sum{a="1"} ${counts[k]}\nx_seconds_count{a="1"} 1\n`,
      ))
  );
  const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const goneUrl = `http://127.0.0.1:${gone.addr.port}`;
  gone.close();
  try {
    counts[0] = 10; // before the row: not counted
    const urls = [...servers.map((s) => `http://127.0.0.1:${s.addr.port}`), goneUrl];
    const series = [{ name }, { name: "x_seconds", labels: '{a="1"}' }];
    const { result, grown } = await withHistograms(urls, series, () => {
      counts[0] += 3;
      counts[1] += 5;
      return Promise.resolve(16);
    });
    assert.equal(result, 16);
    assert.equal(grown[0].count, 8, "both servers' fsyncs, an unreachable one none");
    assert.ok(Math.abs(meanMs(grown[0]) - 2) < 1e-9, `${meanMs(grown[0])} ms`);
    assert.deepEqual(grown[1], { count: 0, seconds: 8 }, "each series on its own");
    assert.deepEqual(walFsyncsOf(grown[0], 16).perRequest, 0.5);
    assert.equal(meanMs({ count: 0, seconds: 0 }), 0, "no observation: 0, not NaN");
    const none = await withHistograms([], series, () => Promise.resolve(0));
    assert.deepEqual(none.grown, [{ count: 0, seconds: 0 }, { count: 0, seconds: 0 }], "no server");
  } finally {
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});
