// The cluster bench's wrk load: its report read right, and its Lua requests as the servers expect.

import assert from "node:assert/strict";
import { fileExists } from "../../scripts/debian.ts";
import { luaFixed, luaKeyed, parseWrk, runWrk, wrkBin } from "../../scripts/bench/wrk.ts";

const report = `Running 5s test @ http://127.0.0.1:40111
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.74ms    3.12ms  50.00ms   80.00%
  Latency Distribution
     50%  850.00us
     75%    9.10ms
     90%   12.00ms
     99%    1.20s
  38600 requests in 5.00s, 6.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 100
Requests/sec:   7720.00
Transfer/sec:      1.22MB
`;

Deno.test("bench: wrk's report becomes answered requests a second, errors and percentiles", () => {
  const r = parseWrk(report, 64);
  assert.equal(r.requests, 38_500);
  assert.equal(r.errors, 103);
  assert.equal(r.perSecond, 7_700);
  assert.equal(r.p50Ms, 0.85);
  assert.equal(r.p99Ms, 1_200);
  assert.throws(() => parseWrk("wrk: connection refused", 1), /no request count/);
});

/** The test task installs wrk (scripts/ensure_test_packages.ts); without it, say how to get it. */
async function needWrk(): Promise<void> {
  assert.ok(await fileExists(wrkBin), `${wrkBin} is missing: apt-get install wrk`);
}

Deno.test("bench: wrk sends each keyed request with keys no other request has", async () => {
  await needWrk();
  const keys: string[] = [];
  const bad: string[] = [];
  let answered = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json() as { success: { requestPut: { key: string; value: string } }[] };
    for (const p of body.success) {
      if (!/^AbCd\d{12}$/.test(p.requestPut.key) || p.requestPut.value !== "dg==") {
        bad.push(JSON.stringify(p));
      }
      keys.push(p.requestPut.key);
    }
    answered++;
    return new Response(answered % 10 === 0 ? "no" : "{}", { status: answered % 10 ? 200 : 500 });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const parts = {
      open: '{"success":[',
      before: '{"requestPut":{"key":"',
      after: '","value":"dg=="}}',
      between: ",",
      close: "]}",
    };
    const r = await runWrk({ url, lua: luaKeyed("/v3/kv/txn", "AbCd", parts, 3) }, 4, 1_000);
    assert.ok(r.requests > 0, JSON.stringify(r));
    assert.deepEqual(bad, []);
    assert.equal(keys.length, 3 * answered);
    assert.equal(new Set(keys).size, keys.length, "a key written twice");
    // Every tenth answer was a 500: wrk counts it as an error, not as an answered request.
    const total = r.requests + r.errors;
    assert.ok(total <= answered && answered - total <= 4, `${answered} answered, ${total} counted`);
    assert.ok(r.errors >= Math.floor(total / 10) - 1, JSON.stringify(r));
  } finally {
    await server.shutdown();
  }
});

Deno.test("bench: wrk sends a fixed request as given", async () => {
  await needWrk();
  const seen = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.add(
      `${req.method} ${new URL(req.url).pathname} ${req.headers.get("content-type")} ${await req
        .text()}`,
    );
    return new Response("{}", { status: 201 });
  });
  try {
    const body = '{"payload":{"a":"]]"}}';
    const url = `http://127.0.0.1:${server.addr.port}`;
    const r = await runWrk({ url, lua: luaFixed("POST", "/v1/queues/q/jobs", body) }, 1, 1_000);
    assert.ok(r.requests > 0 && r.errors === 0, JSON.stringify(r));
    assert.deepEqual([...seen], [`POST /v1/queues/q/jobs application/json ${body}`]);
  } finally {
    await server.shutdown();
  }
});
