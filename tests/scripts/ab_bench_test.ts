// The two-builds benchmark's code path, briefly (so it cannot rot): both bundles, every row.

import assert from "node:assert/strict";
import { benchAb, defaultBodyChars } from "../../scripts/bench/ab_bench.ts";

Deno.test("bench: --only ab runs each bundle in turn and measures each row's CPU", async () => {
  const before = Deno.env.get("RAFTQ_BIN_JS");
  const bundle = before ?? "dist/raftq.js";
  try {
    const o = {
      rowMs: 300,
      via: "leader",
      load: "enqueue",
      bodyChars: defaultBodyChars,
      connections: [1, 64, 256],
      generator: "fetch",
    } as const;
    const rows = await benchAb([bundle, bundle], 1, o);
    assert.deepEqual(rows.map((r) => r.connections), [1, 64, 256, 1, 64, 256]);
    for (const r of rows) {
      assert.ok(r.perSecond > 0 && r.cpuUsPerRequest > 0, JSON.stringify(r));
    }
    assert.ok(rows.every((r) => r.loadGenerator === "fetch"));
    // --via follower: the same rows, every write passed on by a follower; under wrk (the
    // default), whose rows last a second at least.
    const passed = await benchAb([bundle], 1, { ...o, via: "follower", generator: "wrk" });
    assert.deepEqual(passed.map((r) => r.connections), [1, 64, 256]);
    assert.ok(passed.every((r) => r.perSecond > 0 && r.loadGenerator === "wrk"));
    // --load claim-ack: a filled queue, each request a claim and the ack of what it leased;
    // --payload-bytes 4000: long payloads, kept apart from their rows. On either load generator.
    for (const generator of ["fetch", "wrk"] as const) {
      const pairs = await benchAb([bundle], 1, {
        ...o,
        load: "claim-ack",
        bodyChars: 4000,
        generator,
      });
      assert.deepEqual(pairs.map((r) => r.connections), [1, 64, 256]);
      assert.ok(pairs.every((r) => r.perSecond > 0 && r.errors === 0), JSON.stringify(pairs));
    }
    // --connections 1,8: only those rows.
    const some = await benchAb([bundle], 1, { ...o, connections: [1, 8] });
    assert.deepEqual(some.map((r) => r.connections), [1, 8]);
  } finally {
    // (benchAb sets it for each round)
    if (before === undefined) Deno.env.delete("RAFTQ_BIN_JS");
    else Deno.env.set("RAFTQ_BIN_JS", before);
  }
});

Deno.test("bench: --only ab refuses --payload-bytes past its limit, before starting anything", async () => {
  const run = (bytes: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "scripts/bench.ts",
        "--only",
        "ab",
        "--bundles",
        "a.js,b.js",
        "--payload-bytes",
        bytes,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
  for (const bytes of ["0", "262145", "8k"]) {
    const out = await run(bytes);
    assert.equal(out.code, 2, bytes);
    assert.match(new TextDecoder().decode(out.stderr), /--payload-bytes 1\.\.262144/);
  }
});
