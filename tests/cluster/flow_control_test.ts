// Groups, limits and events in a 3-node cluster with leader kills: one lease per group at a time,
// at most `max` claims per rate window, and an event stream that sees every transition once.

import assert from "node:assert/strict";
import { Client, type QueueEvent } from "../../src/client/mod.ts";
import { TestCluster, waitFor } from "../helpers/cluster.ts";

const jobsPerGroup = 20;
const groups = 20;

/** Claims and acks until `stop`, ignoring the errors a failover brings (the lease decides). */
async function work(client: Client, queue: string, stop: AbortSignal) {
  while (!stop.aborted) {
    try {
      const jobs = await client.claim(queue, { worker: "w", max: 5, waitMs: 500, leaseMs: 2_000 });
      for (const j of jobs) await client.ack(j.id, j.lease).catch(() => {});
    } catch {
      // no leader for a moment: try again
    }
  }
}

/** Reads events into `into` until `stop`; halfway it drops its stream and resumes by its id. */
async function consume(client: Client, queue: string, into: QueueEvent[], stop: AbortSignal) {
  let lastEventId: string | undefined;
  for (let round = 0; !stop.aborted; round++) {
    const options = lastEventId === undefined
      ? { from: 0, signal: stop }
      : { lastEventId, signal: stop };
    try {
      for await (const e of client.events(queue, options)) {
        into.push(e);
        lastEventId = e.eventId;
        if (round === 0 && into.length === 300) break; // its own reconnect
      }
    } catch {
      // aborted at the end, or no node answered for a while: resume
    }
  }
}

const order = (id: string) => id.split(":").map(Number);

function checkEvents(events: QueueEvent[], finalStates: Map<string, string>) {
  const ids = events.map((e) => e.eventId!);
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  for (let i = 1; i < ids.length; i++) {
    const [a, b] = [order(ids[i - 1]), order(ids[i])];
    assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `log order: ${ids[i - 1]} ${ids[i]}`);
  }
  const state = new Map<string, string>();
  const leasedIn = new Map<string, number>();
  const claimsPerWindow = new Map<number, number>();
  for (const e of events) {
    assert.notEqual(e.type, "lost");
    const before = state.get(e.jobId!);
    if (before === undefined) assert.equal(e.type, "enqueued", `${e.jobId} starts enqueued`);
    const g = e.group!;
    if (before === "leased") leasedIn.set(g, leasedIn.get(g)! - 1);
    if (e.state === "leased") {
      leasedIn.set(g, (leasedIn.get(g) ?? 0) + 1);
      assert.ok(leasedIn.get(g)! <= 1, `two jobs of ${g} leased at once (event ${e.eventId})`);
    }
    if (e.type === "claimed") {
      const w = Math.floor(e.at! / 1000);
      claimsPerWindow.set(w, (claimsPerWindow.get(w) ?? 0) + 1);
    }
    state.set(e.jobId!, e.state!);
  }
  for (const [window, n] of claimsPerWindow) {
    assert.ok(n <= 100, `${n} claims in the window at ${window * 1000}`);
  }
  assert.deepEqual(new Map([...state].sort()), new Map([...finalStates].sort()), "final states");
}

Deno.test("cluster: groups, limits and the event stream hold through two leader kills", async () => {
  const c = await TestCluster.start(3);
  const stop = new AbortController();
  try {
    const client = new Client({ urls: c.nodes.map((n) => n.url), retryForMs: 20_000 });
    await client.configure("fair", { groupConcurrency: 1, rateLimit: { max: 100, perMs: 1_000 } });
    const events: QueueEvent[] = [];
    const reader = consume(client, "fair", events, stop.signal);
    for (let g = 0; g < groups; g++) {
      const jobs = Array.from({ length: jobsPerGroup }, (_, k) => ({ payload: k, group: `g${g}` }));
      await client.enqueueBatch("fair", jobs);
    }
    const workers = [1, 2, 3, 4].map(() => work(client, "fair", stop.signal));
    for (let kill = 0; kill < 2; kill++) {
      const done = (await client.queue("fair")).done;
      await waitFor(
        "jobs done before a kill",
        async () => (await client.queue("fair")).done > done + 50,
      );
      const old = await c.leader();
      await c.kill(old);
      await c.leader(c.live(), 15_000);
      await c.restart(old);
    }
    const total = groups * jobsPerGroup;
    await waitFor(
      "every job done",
      async () => (await client.queue("fair")).done === total,
      60_000,
    );
    const final = new Map<string, string>();
    for (const j of (await client.jobs("fair", { limit: 1000 })).jobs) final.set(j.id, j.state);
    await waitFor(
      "the stream to see every job end",
      () => Promise.resolve(events.filter((e) => e.type === "acked").length >= total),
    );
    stop.abort();
    await Promise.all([...workers, reader]);
    checkEvents(events, final);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    stop.abort();
    await c.stop();
  }
});
