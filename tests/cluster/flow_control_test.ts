// Groups, limits and events in a 3-node cluster with leader kills: one lease per group at a time,
// at most `max` claims per rate window, and an event stream that sees every transition once.

import assert from "node:assert/strict";
import { Client, type QueueEvent } from "../../src/client/mod.ts";
import { TestCluster, waitFor } from "../helpers/cluster.ts";

const jobsPerGroup = 40;
const groups = 25;

/** Claims and acks until `stop`, ignoring the errors a failover brings (the lease decides). */
async function work(client: Client, queue: string, stop: AbortSignal) {
  while (!stop.aborted) {
    try {
      const jobs = await client.claim(queue, { worker: "w", max: 5, waitMs: 500, leaseMs: 2_000 });
      for (const j of jobs) await client.ack(j.id, j.lease, j.payload).catch(() => {});
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
        async () => (await client.queue("fair")).done > done + 250,
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

Deno.test("cluster: a 1,000-job flow runs in dependency order across a leader kill", async () => {
  const c = await TestCluster.start(3);
  const stop = new AbortController();
  try {
    const client = new Client({ urls: c.nodes.map((n) => n.url), retryForMs: 20_000 });
    const middle = Array.from({ length: 998 }, (_, k) => `m${k}`);
    const ids = await client.flow([
      { ref: "root", queue: "dag", payload: "root" },
      ...middle.map((ref) => ({ ref, queue: "dag", payload: ref, dependsOn: ["root"] })),
      { ref: "sink", queue: "dag", payload: "sink", dependsOn: middle },
    ]);
    const events: QueueEvent[] = [];
    const reader = consume(client, "dag", events, stop.signal);
    const workers = [1, 2, 3, 4].map(() => work(client, "dag", stop.signal));
    await waitFor("some of the fan-out done", async () => (await client.queue("dag")).done > 200);
    const old = await c.leader();
    await c.kill(old);
    await c.leader(c.live(), 15_000);
    await c.restart(old);
    await waitFor(
      "the sink done",
      async () => (await client.getJob(ids.sink)).state === "done",
      60_000,
    );
    const sink = await client.getJob(ids.sink);
    assert.equal(Object.keys(sink.dependencyResults ?? {}).length, 998, "every middle result");
    // Failure: a dependency that ends dead ends its dependents dead, down the chain.
    const chain = await client.flow([
      { ref: "a", queue: "chain", payload: 0 },
      { ref: "b", queue: "chain", payload: 1, dependsOn: ["a"] },
      { ref: "c", queue: "chain", payload: 2, dependsOn: ["b"] },
    ]);
    const [a] = await client.claim("chain", { worker: "w" });
    await client.nack(a.id, a.lease, { error: "broken", final: true });
    for (const ref of ["b", "c"]) assert.equal((await client.getJob(chain[ref])).state, "dead");
    await waitFor(
      "the stream to see the sink acked",
      () => Promise.resolve(events.some((e) => e.jobId === ids.sink && e.type === "acked")),
    );
    stop.abort();
    await Promise.all([...workers, reader]);
    checkOrder(events, ids);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.dump()}`);
  } finally {
    stop.abort();
    await c.stop();
  }
});

/** From the stream: no job of the fan-out claimed before the root was done, nor the sink before them. */
function checkOrder(events: QueueEvent[], ids: Record<string, string>) {
  const index = (e: QueueEvent) => order(e.eventId!)[0];
  const first = (type: string, id: string) => events.find((e) => e.type === type && e.jobId === id);
  const rootDone = index(first("acked", ids.root)!);
  const sinkClaimed = index(first("claimed", ids.sink)!);
  for (const [ref, id] of Object.entries(ids)) {
    if (ref === "root" || ref === "sink") continue;
    const claimed = index(first("claimed", id)!);
    const done = index(first("acked", id)!);
    assert.ok(claimed > rootDone, `${ref} claimed before the root was done`);
    assert.ok(done < sinkClaimed, `the sink claimed before ${ref} was done`);
  }
}
