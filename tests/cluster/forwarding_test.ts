// Writes sent to a follower: the proposal goes to the leader over the peer link, not over HTTP.

import assert from "node:assert/strict";
import { Client } from "../../src/client/mod.ts";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";

/** The ids of the queue's events from the start through job `id`'s ack, read from node `url`. */
async function eventIds(url: string, queue: string, id: string): Promise<string[]> {
  const ids: string[] = [];
  const client = new Client({ urls: url, retryForMs: 5_000 });
  const signal = AbortSignal.timeout(15_000); // (bounded: a stream that stalls fails the test)
  for await (const e of client.events(queue, { from: 0, signal })) {
    ids.push(e.eventId!);
    if (e.type === "acked" && e.jobId === id) return ids;
  }
  throw new Error(`${url} never streamed the ack of ${id}`);
}

/** A gauge's value for one `kind` in a node's /metrics. */
async function gauge(url: string, name: string, kind: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{kind="${kind}"} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

/** The value of a counter in a node's /metrics. */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

Deno.test("cluster: a follower passes writes to the leader over the peer link", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const follower = c.live().find((n) => n !== leader)!;
    const f = follower.url;
    await waitFor("the follower's link to the leader", async () => {
      const r = await call(`${f}/v1/queues/fw/jobs`, "POST", { payload: 0 });
      return r.status === 201 && await counter(f, "raftq_proposals_forwarded_total") > 0;
    });
    const before = await counter(f, "raftq_proposals_forwarded_total");
    const one = await call(`${f}/v1/queues/fw/jobs`, "POST", { payload: { n: 1 }, group: "g" });
    assert.equal(one.status, 201, JSON.stringify(one.body));
    assert.equal(one.headers.get("x-raftq-leader"), leader.id);
    const batch = await call(`${f}/v1/queues/fw/batch`, "POST", { jobs: [{ payload: 2 }] });
    assert.equal(batch.status, 201);
    const flow = await call(`${f}/v1/flows`, "POST", {
      jobs: [{ ref: "a", queue: "fw", payload: 3 }, {
        ref: "b",
        queue: "fw",
        payload: 4,
        dependsOn: ["a"],
      }],
    });
    assert.equal(flow.status, 201, JSON.stringify(flow.body));
    // A claim too: its answer carries the payload's exact text across the peer link.
    const claimRes = await fetch(`${f}/v1/queues/fw/claim`, {
      method: "POST",
      body: JSON.stringify({ worker: "w", max: 1 }),
    });
    const claimText = await claimRes.text();
    assert.equal(claimRes.status, 200, claimText);
    assert.ok(claimText.includes('"payload":0'), claimText);
    const [job] = JSON.parse(claimText).jobs;
    // An ack with its next claim: the leased job's payload crosses as its exact text.
    const ackRes = await fetch(`${f}/v1/jobs/${job.id}/ack`, {
      method: "POST",
      body: JSON.stringify({ lease: job.lease, result: 1, next: { queue: "fw", worker: "w" } }),
    });
    const ackText = await ackRes.text();
    assert.equal(ackRes.status, 200, ackText);
    assert.match(ackText, /^\{"id":"[^"]+","state":"done","jobs":\[\{"id":"[^"]+","payload":/);
    const again = await call(`${f}/v1/jobs/${job.id}/ack`, "POST", { lease: "999" });
    assert.equal(again.status, 409, "the leader's refusal comes back as it is");
    assert.equal(again.body.error.code, "lease_mismatch");
    assert.equal(await counter(f, "raftq_proposals_forwarded_total") - before, 6);
    assert.ok(await counter(leader.url, "raftq_proposals_received_total") >= 6);
    const bad = await call(`${f}/v1/queues/fw/jobs`, "POST", { payload: 1, priority: 99 });
    assert.equal(bad.status, 400, "refused on the follower, never sent");
    assert.equal(await counter(f, "raftq_proposals_forwarded_total") - before, 6);
    // A long poll on the follower waits on its own applied state and wakes when the job a client
    // enqueues at the leader reaches it; the payload's exact text comes back.
    const exact = '{"big": 12345678901234567890, "f": 1.0}';
    const polling = fetch(`${f}/v1/queues/lp/claim`, {
      method: "POST",
      body: JSON.stringify({ worker: "w", waitMs: 20_000 }),
    }).then((r) => r.text());
    await waitFor(
      "the follower's long poll",
      async () => (await gauge(f, "raftq_long_poll_waiters", "claim")) === 1,
    );
    const put = await fetch(`${leader.url}/v1/queues/lp/jobs`, {
      method: "POST",
      body: `{"payload": ${exact}}`,
    });
    assert.equal(put.status, 201);
    const polled = await polling;
    assert.ok(polled.includes(`"payload":${exact}`), polled);
    const got = await call(`${leader.url}/v1/jobs/${one.body.id}`, "GET");
    assert.deepEqual([got.body.payload, got.body.group], [{ n: 1 }, "g"]);
    // A linearizable read on the follower asks the leader for a read index over the link and
    // applies up to it first: it sees each job the leader has just acknowledged.
    const reads = await counter(f, "raftq_reads_forwarded_total");
    for (let i = 0; i < 20; i++) {
      const put = await call(`${leader.url}/v1/queues/rd/jobs`, "POST", { payload: i });
      const got = await call(`${f}/v1/jobs/${put.body.id}`, "GET");
      assert.equal(got.status, 200, `read ${i} on the follower: ${JSON.stringify(got.body)}`);
      assert.equal(got.body.payload, i);
    }
    const list = await call(`${f}/v1/queues/rd`, "GET");
    assert.equal(list.body.ready, 20);
    assert.equal(await counter(f, "raftq_reads_forwarded_total") - reads, 21, "over the link");
    assert.ok(await counter(leader.url, "raftq_reads_received_total") >= 21);
    // Queue control goes over the link too; a pause's answer shows the follower's state after it.
    const control = await counter(f, "raftq_proposals_forwarded_total");
    const config = await call(`${f}/v1/queues/rd/config`, "PUT", { maxAttempts: 2 });
    assert.deepEqual([config.status, config.body.maxAttempts], [200, 2]);
    const paused = await call(`${f}/v1/queues/rd/pause`, "POST");
    assert.deepEqual([paused.status, paused.body.paused, paused.body.ready], [200, true, 20]);
    assert.equal((await call(`${f}/v1/queues/rd/resume`, "POST")).body.paused, false);
    assert.deepEqual((await call(`${f}/v1/queues/rd/jobs?state=done`, "DELETE")).body, {
      purged: 0,
    });
    const noSchedule = await call(`${f}/v1/schedules/none`, "DELETE");
    assert.equal(noSchedule.status, 404, "the leader's refusal, as it is");
    // A schedule set through the follower: its first slot comes from the leader's entry stamp.
    const everyMs = 3_600_000;
    const setAtMs = Date.now();
    const hourly = await call(`${f}/v1/schedules/hourly`, "PUT", { queue: "rd", everyMs });
    assert.equal(hourly.status, 200, JSON.stringify(hourly.body));
    const next = hourly.body.nextRunAt;
    assert.ok(next % everyMs === 0 && next > setAtMs && next <= Date.now() + everyMs, `${next}`);
    const atLeader = await call(`${leader.url}/v1/schedules/hourly`, "GET");
    assert.equal(atLeader.body.nextRunAt, next);
    assert.equal(await counter(f, "raftq_proposals_forwarded_total") - control, 6);
    // The event stream is served by each node from its own applied state: the same events, ids
    // and all, from the follower as from the leader.
    const streams = await Promise.all([leader.url, f].map((u) => eventIds(u, "fw", job.id)));
    assert.ok(streams[0].length >= 7, `${streams[0].length} events`);
    assert.deepEqual(streams[1], streams[0]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    await c.stop();
  }
});
