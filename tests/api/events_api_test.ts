// GET /v1/queues/:queue/events in process: Server-Sent Events of every transition, resumable.

import assert from "node:assert/strict";
import { Client, type QueueEvent } from "../../src/client/mod.ts";
import { parseSse } from "../../src/client/events.ts";
import { type InProcessNode, startInProcessNode } from "../helpers/in_process.ts";

async function withNode(fn: (node: InProcessNode, client: Client) => Promise<void>) {
  const node = await startInProcessNode();
  try {
    const fetch = ((input: string | URL | Request, init?: RequestInit) =>
      node.fetch(
        String(input instanceof Request ? input.url : input),
        init,
      )) as typeof globalThis.fetch;
    await fn(node, new Client({ urls: node.url, fetch, retryForMs: 2_000 }));
    assert.deepEqual(node.logged, [], "nothing a client sent made the node log an error");
  } finally {
    await node.stop();
  }
}

/** The first `n` events of the iterator (it is then closed, which ends the stream). */
async function take(events: AsyncGenerator<QueueEvent>, n: number): Promise<QueueEvent[]> {
  const out: QueueEvent[] = [];
  for await (const e of events) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

Deno.test("api: a queue's events stream live, in log order, as SSE with index ids", () =>
  withNode(async (node, client) => {
    const live = take(client.events("q"), 4);
    const { id } = await client.enqueue("q", { n: 1 }, { group: "g" });
    await client.enqueue("other", 2);
    const [job] = await client.claim("q", { worker: "w" });
    await client.ack(job.id, job.lease, { ok: true });
    await client.enqueue("q", 3);
    const events = await live;
    assert.deepEqual(events.map((e) => [e.type, e.jobId, e.state, e.attempt]), [
      ["enqueued", id, "ready", 0],
      ["claimed", id, "leased", 1],
      ["acked", id, "done", 1],
      ["enqueued", events[3].jobId, "ready", 0],
    ]);
    assert.equal(events[0].group, "g");
    assert.equal(events[0].eventId, `${events[0].index}:0`);
    assert.ok(events.every((e) => e.queue === "q"), "only the queue's own");
    const res = await node.fetch(`${node.url}/v1/queues/q/events?from=0`);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const first = await parseSse(res.body!).next();
    assert.equal(first.value?.event, "enqueued");
    assert.equal(first.value?.id, events[0].eventId);
  }));

Deno.test("api: Last-Event-ID resumes right after that event; ?from at an index", () =>
  withNode(async (node, client) => {
    await client.enqueueBatch("q", [1, 2, 3].map((payload) => ({ payload })));
    await client.enqueue("q", 4);
    const all = await take(client.events("q", { from: 0 }), 4);
    const after = async (lastEventId: string) => {
      const res = await node.fetch(`${node.url}/v1/queues/q/events?from=0`, {
        headers: { "last-event-id": lastEventId },
      });
      const stream = parseSse(res.body!);
      const next = await stream.next();
      await stream.return(undefined);
      return next.value?.id;
    };
    assert.equal(await after(all[0].eventId!), all[1].eventId, "inside a batch's entry");
    assert.equal(await after(all[2].eventId!), all[3].eventId, "into the next entry");
    assert.equal(await after(String(all[0].index)), all[3].eventId, "after a whole entry");
    const fromFourth = await take(client.events("q", { from: all[3].index }), 1);
    assert.equal(fromFourth[0].eventId, all[3].eventId);
    const bad = await node.call(`${node.url}/v1/queues/q/events`, "GET", undefined, {
      "last-event-id": "yesterday",
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_request");
    const badFrom = await node.call(`${node.url}/v1/queues/q/events?from=-1`, "GET");
    assert.equal(badFrom.status, 400);
  }));

Deno.test("api: many streams of a queue, at different places, each get their own events", () =>
  withNode(async (node, client) => {
    const first = await client.enqueue("q", 0);
    const ids = (events: QueueEvent[]) => events.map((e) => e.eventId);
    const from = (await node.call(`${node.url}/admin/status`, "GET")).body.appliedIndex + 1;
    // These stand at the same place and share each chunk; those from 0 stand elsewhere.
    const live = Array.from({ length: 12 }, () => take(client.events("q", { from }), 3));
    const fromStart = Array.from({ length: 4 }, () => take(client.events("q", { from: 0 }), 4));
    const other = Array.from({ length: 4 }, () => take(client.events("r", { from }), 2));
    const r1 = await client.enqueue("r", 1);
    const q1 = await client.enqueue("q", 1);
    const r2 = await client.enqueue("r", 2);
    await client.enqueueBatch("q", [{ payload: 2 }, { payload: 3 }]);
    const liveEvents = await Promise.all(live);
    const expectedLive = liveEvents[0];
    assert.deepEqual(expectedLive.map((e) => e.jobId).slice(0, 1), [q1.id]);
    for (const events of liveEvents) assert.deepEqual(ids(events), ids(expectedLive));
    for (const events of await Promise.all(fromStart)) {
      assert.deepEqual(ids(events).slice(1), ids(expectedLive));
      assert.equal(events[0].jobId, first.id);
    }
    for (const events of await Promise.all(other)) {
      assert.deepEqual(events.map((e) => [e.queue, e.jobId]), [["r", r1.id], ["r", r2.id]]);
    }
    // Two queues' streams at the same place, read between the same two applies.
    const [q0, r0] = await Promise.all([
      take(client.events("q", { from: 0 }), 4),
      take(client.events("r", { from: 0 }), 2),
    ]);
    assert.deepEqual(q0.map((e) => e.jobId).slice(0, 2), [first.id, q1.id]);
    assert.deepEqual(r0.map((e) => e.jobId), [r1.id, r2.id]);
  }));
