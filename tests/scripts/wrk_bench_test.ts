// The cluster bench's wrk load: its report read right, and its Lua requests as the servers expect.

import assert from "node:assert/strict";
import { fileExists } from "../../scripts/debian.ts";
import { waitFor } from "../helpers/node_process.ts";
import {
  luaFixed,
  luaKeyed,
  luaQuota,
  luaWorker,
  parseWrk,
  runWrk,
  wrkBin,
} from "../../scripts/bench/wrk.ts";

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

/**
 * A queue of `jobs` jobs behind claim and ack, as raftq answers them: each lease acked once, by
 * its own lease; `next` on an ack leases the next job in its answer.
 */
function fakeQueue(jobs: number) {
  const leased = new Map<string, string>();
  const state = { claimed: 0, acked: 0, empty: 0, bad: [] as string[], acksWithNext: 0 };
  const lease = () => {
    if (state.claimed === jobs) return [];
    const id = `${++state.claimed}-0`;
    leased.set(id, `${state.claimed + 1000}`);
    return [{ id, payload: { id: "not-this" }, attempt: 1, lease: leased.get(id) }];
  };
  const handler = async (req: Request) => {
    const path = new URL(req.url).pathname;
    const body = await req.json() as { worker?: string; lease?: string; next?: unknown };
    if (path === "/v1/queues/batch/claim") {
      if (!/^w\d+$/.test(body.worker ?? "")) state.bad.push(`claim by ${body.worker}`);
      const out = lease();
      if (out.length === 0) state.empty++;
      return Response.json({ jobs: out });
    }
    const id = /^\/v1\/jobs\/([^/]+)\/ack$/.exec(path)?.[1];
    if (!id || leased.get(id) !== body.lease) {
      state.bad.push(`${path} ${JSON.stringify(body)}`);
      return Response.json({ error: { code: "lease_mismatch" } }, { status: 409 });
    }
    leased.delete(id);
    state.acked++;
    if (!body.next) return Response.json({ id, state: "done" });
    state.acksWithNext++;
    return Response.json({ id, state: "done", jobs: lease() });
  };
  return { state, handler };
}

for (const next of [false, true]) {
  Deno.test(`bench: wrk's worker load claims and acks each job once (next: ${next})`, async () => {
    await needWrk();
    const q = fakeQueue(next ? 1_000_000 : 3_000);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, q.handler);
    try {
      const url = `http://127.0.0.1:${server.addr.port}`;
      const r = await runWrk({ url, lua: luaWorker("batch", next), count: "acks" }, 8, 1_000);
      assert.deepEqual(q.state.bad, []);
      assert.ok(r.requests > 0, JSON.stringify(r));
      // What wrk counted is what the queue acked, but for answers in flight when it stopped.
      assert.ok(r.requests <= q.state.acked && q.state.acked - r.requests <= 8, JSON.stringify(r));
      assert.ok(r.errors <= q.state.empty && q.state.empty - r.errors <= 8, JSON.stringify(r));
      if (next) assert.ok(q.state.acksWithNext === q.state.acked && q.state.empty === 0);
      else assert.ok(q.state.empty > 0 && q.state.claimed === 3_000, JSON.stringify(q.state));
    } finally {
      await server.shutdown();
    }
  });
}

Deno.test("bench: a row of two requests a result counts results", () => {
  const r = parseWrk(report, 64, { requestsPerResult: 2 });
  assert.equal(r.requests, 19_250);
  assert.equal(r.perSecond, 3_850);
  assert.throws(() => parseWrk(report, 64, "acks"), /no counts/);
  const acked = parseWrk(`${report}worker-acks 500\nworker-empty 7\n`, 64, "acks");
  assert.equal(acked.requests, 500);
  assert.equal(acked.perSecond, 100);
  assert.equal(acked.errors, 110);
});

Deno.test("bench: a Lua script wrk cannot load fails the run, not a default GET", async () => {
  await needWrk();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    return new Response("{}");
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const lua = `request = function() return "unfinished\n end`;
    await assert.rejects(runWrk({ url, lua }, 1, 1_000), /wrk failed: .*unfinished string/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("bench: a quota load stops each wrk thread once its share was answered", async () => {
  await needWrk();
  let created = 0;
  let answered = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.text();
    answered++;
    if (answered % 5 === 0) return new Response("busy", { status: 503 });
    created++;
    return new Response("{}", { status: 201 });
  });
  const dir = await Deno.makeTempDir({ prefix: "raftq-quota-" });
  const script = `${dir}/quota.lua`;
  await Deno.writeTextFile(script, luaQuota("POST", "/v1/queues/q/batch", "{}", 37, 2, 201));
  const url = `http://127.0.0.1:${server.addr.port}`;
  const args = ["-t2", "-c4", "-d60s", "-s", script, url];
  const wrk = new Deno.Command(wrkBin, { args, stdout: "null", stderr: "null" }).spawn();
  try {
    // (every fifth is a 503, which a thread does not count toward its share)
    await waitFor("37 requests answered 201", () => created >= 37, 30_000);
    // Each thread stopped at its share: at most its other connection's request came after.
    assert.ok(created <= 39, `${created} created`);
  } finally {
    wrk.kill("SIGINT");
    await wrk.status;
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
