// Property: no body, path or query a client sends to any route yields a 5xx or stops the node.

import assert from "node:assert/strict";
import fc from "fast-check";
import { call, startReadyNode } from "../helpers/node_process.ts";

const fields = [
  "payload",
  "jobs",
  "delayMs",
  "priority",
  "maxAttempts",
  "idempotencyKey",
  "worker",
  "max",
  "leaseMs",
  "lease",
  "result",
  "error",
  "retryDelayMs",
  "to",
  "v",
  "clusterId",
  "nodeId",
  "nonce",
  "challenge",
  "mac",
  "__proto__",
  "constructor",
];
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer(),
  fc.constantFrom(0, -1, 1.5, 1e300, "1-0", "", "x".repeat(300)),
);
/** Objects with the API's own field names (and hostile ones) holding any values. */
const fieldish = fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 5 })
  .map((o) => JSON.stringify(o));
const body = fc.oneof(
  fieldish,
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", "{", "[]", "null", '{"payload":' + "[".repeat(150) + "]".repeat(150) + "}"),
);
const segment = fc.oneof(
  fc.constantFrom("q", "1-0", "999999-0", "..", "%00", "a%2Fb"),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const query = fc.oneof(
  fc.constant(""),
  fc.constantFrom("?consistency=local", "?consistency=bogus", "?limit=0", "?limit=5&cursor=x"),
);
/** Every route (membership changes excepted: a fuzzer must not remove its node or reach out). */
const route = fc.oneof(
  fc.tuple(fc.constantFrom("POST"), segment, fc.constantFrom("jobs", "batch", "claim"))
    .map(([m, q, r]) => [m, `/v1/queues/${q}/${r}`] as const),
  fc.tuple(
    fc.constantFrom("POST"),
    segment,
    fc.constantFrom("ack", "nack", "extend", "release", "progress"),
  )
    .map(([m, id, r]) => [m, `/v1/jobs/${id}/${r}`] as const),
  fc.tuple(fc.constantFrom("GET", "DELETE", "PUT"), segment).map(([m, id]) =>
    [m, `/v1/jobs/${id}`] as const
  ),
  fc.tuple(segment, segment).map(([q, id]) =>
    ["POST", `/v1/queues/${q}/dead/${id}/retry`] as const
  ),
  segment.map((q) => ["GET", `/v1/queues/${q}/dead`] as const),
  fc.constantFrom(
    ["GET", "/v1/queues"],
    ["GET", "/healthz"],
    ["GET", "/readyz"],
    ["GET", "/admin/status"],
    ["GET", "/metrics"],
    ["GET", "/"],
    ["POST", "/admin/snapshot"],
    ["POST", "/admin/transfer"],
    ["GET", "/admin/members"],
    ["DELETE", "/admin/members/nobody"],
    ["GET", "/raft/challenge"],
    ["POST", "/raft/hello"],
    ["GET", "/raft"],
    ["PATCH", "/v2/none"],
  ) as fc.Arbitrary<readonly [string, string]>,
);

Deno.test("props: arbitrary requests to every route get a 4xx or 2xx, never a 5xx", async () => {
  const node = await startReadyNode({ args: ["--cluster-secret", "fuzz-test-secret-0123456789"] });
  try {
    await call(`${node.url}/v1/queues/q/jobs`, "POST", { payload: 1 });
    await fc.assert(
      fc.asyncProperty(route, query, body, async ([method, path], q, text) => {
        // A claim may not wait: a fuzzer's long polls would only be slow.
        const sent = path.endsWith("/claim") ? text.replace(/"waitMs"/g, '"wait"') : text;
        const r = await call(
          `${node.url}${path}${q}`,
          method,
          method === "GET" || method === "DELETE" ? undefined : sent,
        );
        assert.ok(
          r.status < 500,
          `${method} ${path}${q} ${sent.slice(0, 80)} -> ${r.status} ${JSON.stringify(r.body)}`,
        );
        if (r.status >= 400) {
          assert.equal(typeof r.body?.error?.code, "string", JSON.stringify(r.body));
        }
      }),
      { numRuns: 500 },
    );
    assert.equal((await call(`${node.url}/healthz`, "GET")).status, 200);
    const errors = node.stderr.filter((l) => l.includes('"level":"error"'));
    assert.deepEqual(errors, [], "no request made the node log an error");
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});
