// Property: any JSON a user sends as a payload or result comes back byte for byte, on every node.

import assert from "node:assert/strict";
import fc from "fast-check";
import { parseBody } from "../../src/api/json_body.ts";
import type { RawJson } from "../../src/queue/json_text.ts";
import { TestCluster, waitFor } from "../helpers/cluster.ts";

/** Keys that once stopped a leader, mixed into arbitrary ones. */
const hostileKey = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "");

/** Arbitrary JSON text: any value, hostile keys, unicode, escapes, odd spacing and numbers. */
const jsonText = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("null", "true", "false", "0", "-0", "1e2", "12345678901234567890", "-1.5E-7"),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.string({ unit: "grapheme" }).map((s) => JSON.stringify(s)),
    fc.constantFrom('"\\u0000\\ud800\\/"', '"\\u00e9 \u00e9 \u{1F600}"'),
    fc.array(tie("value"), { maxLength: 4 }).map((xs) => `[ ${xs.join(" ,")}]`),
    fc.array(fc.tuple(fc.oneof(hostileKey, fc.string()), tie("value")), { maxLength: 4 })
      .map((kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)} :\n${v}`).join(",")}}`),
  ),
})).value;

/** The exact text of the users' JSON at `paths` in a response body. */
function rawAt(body: string, paths: string[]): RawJson[] {
  const found: RawJson[] = [];
  const walk = (v: unknown) => {
    if (v && typeof v === "object" && "text" in (v as object)) found.push(v as RawJson);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(parseBody(body, paths));
  return found;
}

async function send(url: string, method: string, body?: string): Promise<[number, string]> {
  const r = await fetch(url, { method, body, headers: { "content-type": "application/json" } });
  return [r.status, await r.text()];
}

Deno.test("props: payloads and results round-trip byte for byte on a 3-node cluster", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(jsonText, jsonText, async (payload, result) => {
        const queue = `rt${n++}`;
        const [s1, b1] = await send(
          `${leader.url}/v1/queues/${queue}/jobs`,
          "POST",
          `{"payload":${payload}}`,
        );
        assert.equal(s1, 201, b1);
        const [s2, b2] = await send(
          `${leader.url}/v1/queues/${queue}/claim`,
          "POST",
          '{"worker":"w"}',
        );
        assert.equal(s2, 200, b2);
        assert.equal(rawAt(b2, ["jobs.*.payload"])[0]?.text, payload);
        const job = JSON.parse(b2).jobs[0];
        const [s3, b3] = await send(
          `${leader.url}/v1/jobs/${job.id}/ack`,
          "POST",
          `{"lease":${JSON.stringify(job.lease)},"result":${result}}`,
        );
        assert.equal(s3, 200, b3);
        for (const node of c.live()) {
          const body = await waitFor(`${job.id} applied on ${node.id}`, async () => {
            const [s, b] = await send(`${node.url}/v1/jobs/${job.id}?consistency=local`, "GET");
            return s === 200 && JSON.parse(b).state === "done" && b;
          });
          assert.deepEqual(rawAt(body, ["payload", "result"]).map((r) => r.text), [
            payload,
            result,
          ]);
        }
      }),
      { numRuns: 60 },
    );
  } finally {
    await c.stop();
  }
});
