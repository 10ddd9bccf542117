// Flows in the state machine: waiting jobs, fan-out and fan-in, failure policies, dependsOn.

import assert from "node:assert/strict";
import type { FlowJob, NewJob } from "../../src/queue/commands.ts";
import { Harness, value, withHarness } from "../helpers/queue_harness.ts";

const job = (payload: unknown, more: Partial<NewJob> = {}): NewJob => ({
  payload: JSON.stringify(payload),
  delayMs: 0,
  priority: 0,
  ...more,
});

/** A → B, A → C, (B, C) → D, all in queue q: the ids by letter. */
function diamond(h: Harness, stampMs: number, more: Partial<NewJob> = {}) {
  const jobs: FlowJob[] = [
    { queue: "q", job: job("A"), after: [] },
    { queue: "q", job: job("B", more), after: [0] },
    { queue: "q", job: job("C", more), after: [0] },
    { queue: "q", job: job("D", more), after: [1, 2] },
  ];
  const r = h.apply(stampMs, { type: "flow", jobs });
  assert.equal(r.type, "flowCreated", JSON.stringify(r));
  const [A, B, C, D] = r.type === "flowCreated" ? r.ids : [];
  return { A, B, C, D };
}

const state = (h: Harness, id: string) => h.sm.getJob(id)!.state;

/** Claims the job `id` (it must be the one claimed) and acks it with `result`. */
function run(h: Harness, stampMs: number, id: string, result: unknown = null) {
  const [claimed] = h.claim(stampMs, "q");
  assert.equal(claimed?.id, id, "the job claimed");
  const r = h.apply(stampMs, {
    type: "ack",
    id,
    lease: claimed.lease,
    result: JSON.stringify(result),
  });
  assert.equal(r.type, "acked");
}

Deno.test("flows: a fan-out then fan-in runs in dependency order and passes results on", () =>
  withHarness((h) => {
    const { A, B, C, D } = diamond(h, 1);
    assert.deepEqual([A, B, C, D].map((id) => state(h, id)), [
      "ready",
      "waiting",
      "waiting",
      "waiting",
    ]);
    assert.equal(h.sm.queueView("q").waiting, 3);
    assert.equal(h.claim(2, "q", 10).length, 1, "only A is claimable");
    h.apply(3, { type: "ack", id: A, lease: "2", result: "1" });
    assert.deepEqual([B, C, D].map((id) => state(h, id)), ["ready", "ready", "waiting"]);
    run(h, 4, B, "b");
    assert.equal(state(h, D), "waiting", "one of two dependencies done");
    run(h, 5, C, { c: true });
    assert.equal(state(h, D), "ready");
    const view = h.sm.getJob(D)!;
    assert.deepEqual(view.dependsOn, [B, C]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(view.dependencyResults!).map(([k, v]) => [k, value(v)])),
      { [B]: "b", [C]: { c: true } },
    );
    assert.deepEqual(h.sm.listJobs("q", "waiting", 10).jobs, []);
  }));

Deno.test("flows: a failed dependency fails its dependents, all the way down", () =>
  withHarness((h) => {
    const { A, B, C, D } = diamond(h, 1);
    const [a] = h.claim(2, "q");
    h.apply(3, { type: "nack", id: A, lease: a.lease, error: "no", final: true });
    for (const id of [B, C, D]) {
      const j = h.sm.getJob(id)!;
      assert.equal(j.state, "dead", id);
      assert.match(j.lastError!, /^dependency \d+-\d ended dead$/);
    }
    assert.equal(h.sm.queueView("q").waiting, 0);
    assert.equal(h.sm.queueView("q").dead, 4);
  }));

Deno.test("flows: onFailure ignore goes on; a cancelled waiting job fails its own dependents", () =>
  withHarness((h) => {
    const ignoring = diamond(h, 1, { onFailure: "ignore" });
    h.apply(2, { type: "cancel", id: ignoring.A });
    assert.deepEqual([ignoring.B, ignoring.C].map((id) => state(h, id)), ["ready", "ready"]);
    const failing = diamond(h, 3);
    h.apply(4, { type: "cancel", id: failing.B });
    assert.equal(state(h, failing.D), "dead", "D needed B");
    assert.equal(state(h, failing.C), "waiting", "C did not");
  }));

Deno.test("flows: dependsOn on a plain enqueue waits for, passes or fails on existing jobs", () =>
  withHarness((h) => {
    const [done, dead, open] = h.enqueue(1, "q", { payload: 1 }, { payload: 2 }, { payload: 3 });
    run(h, 2, done.id, "x");
    const [second] = h.claim(3, "q");
    h.apply(3, { type: "nack", id: dead.id, lease: second.lease, final: true });
    const enq = (...dependsOn: string[]) =>
      h.apply(4, { type: "enqueue", queue: "q", jobs: [job(0, { dependsOn })] });
    const states = (r: ReturnType<typeof enq>) => r.type === "enqueued" ? r.jobs[0].state : r.type;
    assert.equal(states(enq(done.id)), "ready", "its dependency is done already");
    assert.equal(states(enq(done.id, open.id)), "waiting");
    assert.equal(states(enq(dead.id)), "dead", "its dependency had failed");
    const missing = enq("999-0");
    assert.deepEqual(missing.type === "error" && [missing.code, missing.message], [
      "not_found",
      "job 999-0 in dependsOn does not exist",
    ]);
  }));

Deno.test("flows: a flow is all or nothing against maxDepth; a uniqueKey holds while waiting", () =>
  withHarness((h) => {
    h.apply(1, { type: "configure", queue: "q", config: { maxDepth: 3 } });
    const r = h.apply(2, {
      type: "flow",
      jobs: [0, 1, 2, 3].map((n) => ({ queue: "q", job: job(n), after: n > 0 ? [0] : [] })),
    });
    assert.equal(r.type === "error" && r.code, "queue_full");
    assert.equal(h.sm.queueView("q").ready + h.sm.queueView("q").waiting, 0, "nothing created");
    const { A } = diamond(h, 3, { uniqueKey: "u" });
    void A;
    const again = h.enqueue(4, "q", { payload: 9, uniqueKey: "u" });
    assert.equal(again[0].deduplicated, true);
  }));

Deno.test("flows: a waiting job's ttlMs counts from when its dependencies are done", () =>
  withHarness((h) => {
    const r = h.apply(1, {
      type: "flow",
      jobs: [
        { queue: "q", job: job("first"), after: [] },
        { queue: "q", job: job("then", { ttlMs: 1_000 }), after: [0] },
      ],
    });
    const [first, then] = r.type === "flowCreated" ? r.ids : [];
    run(h, 5_000, first);
    h.apply(5_500, { type: "tick", retentionMs: 1e9 });
    assert.equal(state(h, then), "ready", "not expired: its ttl began at 5,000");
    h.apply(6_001, { type: "tick", retentionMs: 1e9 });
    assert.equal(state(h, then), "expired");
  }));

Deno.test("flows: an end tells a bounded number of waiting jobs an entry, oldest end first", () =>
  withHarness((h) => {
    const fanOut = (stampMs: number, queue: string, n: number) => {
      const jobs: FlowJob[] = Array.from({ length: n + 1 }, (_, k) => ({
        queue,
        job: job(k),
        after: k === 0 ? [] : [0],
      }));
      const r = h.apply(stampMs, { type: "flow", jobs });
      return r.type === "flowCreated" ? r.ids : [];
    };
    const [R, ...ds] = fanOut(1, "q", 8);
    const [S, T] = fanOut(2, "s", 1);
    const [s] = h.claim(3, "s");
    const [r] = h.claim(4, "q");
    const ready = () => ds.filter((id) => state(h, id) === "ready").length;
    h.apply(5, { type: "ack", id: R, lease: r.lease, result: "1" });
    assert.equal(ready(), 3, "three told by the ack's entry");
    assert.ok(h.sm.deps.pending);
    assert.equal(h.sm.nextDueMs(1e9), 5, "a leader ticks at once while ends are kept");
    h.apply(6, { type: "ack", id: S, lease: s.lease, result: "1" });
    assert.equal(ready(), 6, "the next entry goes on with R's");
    assert.equal(state(h, T), "waiting", "S ended after R: its turn comes after R's");
    h.apply(7, { type: "tick", retentionMs: 1e9 });
    assert.deepEqual([ready(), state(h, T)], [8, "ready"]);
    h.apply(8, { type: "tick", retentionMs: 1e9 });
    assert.ok(!h.sm.deps.pending, "every end told: nothing kept");
    assert.ok(h.sm.nextDueMs(1e9)! > 1e9, "only the retention of the ended jobs is due");
    assert.equal(h.sm.queueView("q").waiting, 0);
  }, { settlesPerEntry: 3 }));

Deno.test("flows: a failure runs down a long chain a few jobs an entry, to its end", () =>
  withHarness((h) => {
    const jobs: FlowJob[] = Array.from({ length: 12 }, (_, k) => ({
      queue: "q",
      job: job(k),
      after: k === 0 ? [] : [k - 1],
    }));
    const r = h.apply(1, { type: "flow", jobs });
    const ids = r.type === "flowCreated" ? r.ids : [];
    const [head] = h.claim(2, "q");
    h.apply(3, { type: "nack", id: ids[0], lease: head.lease, final: true });
    assert.equal(h.sm.queueView("q").dead, 1 + 3, "the head and three down the chain");
    let entries = 1;
    while (h.sm.deps.pending && entries < 20) {
      h.apply(4 + entries, { type: "tick", retentionMs: 1e9 });
      entries++;
    }
    assert.ok(!h.sm.deps.pending && entries > 3, `${entries} entries`);
    assert.deepEqual([h.sm.queueView("q").dead, h.sm.queueView("q").waiting], [12, 0]);
    for (let k = 1; k < ids.length; k++) {
      assert.equal(h.sm.getJob(ids[k])!.lastError, `dependency ${ids[k - 1]} ended dead`);
    }
  }, { settlesPerEntry: 3 }));

Deno.test("flows: a replica that restarted keeps the ends it is told to, as the others do", async () => {
  // With no edge left but ends still kept, a running replica remembered that edges had existed
  // and kept each new end; one that had restarted knew none and kept nothing: their kept ends,
  // and so how far later entries' budgets reach, differed.
  const [a, b] = [
    await Harness.open({ settlesPerEntry: 2 }),
    await Harness.open({ settlesPerEntry: 2 }),
  ];
  try {
    const run = (h: Harness, restartAt: number) => {
      const [dep] = h.enqueue(10, "q", { payload: "a" });
      h.enqueue(20, "q", ...["b1", "b2", "b3"].map((p) => ({ payload: p, dependsOn: [dep.id] })));
      const xs = h.enqueue(30, "x", ...Array.from({ length: 6 }, (_, k) => ({ payload: k })));
      const leased = h.claim(40, "q", 1).concat(h.claim(41, "x", 6));
      const ack = (k: number) => ({
        type: "ack" as const,
        id: leased[k].id,
        lease: leased[k].lease,
      });
      // a's end tells 2 of its 3 (the budget) and is kept, then five more ends are kept after it
      h.apply(50, { type: "merged", cmds: [0, 1, 2, 3, 4, 5].map(ack) });
      h.apply(60, { type: "enqueue", queue: "y", jobs: [job("y")] }); // tells b3: no edge is left
      if (restartAt === 60) h.restart({ settlesPerEntry: 2 });
      h.apply(70, { type: "merged", cmds: [ack(6)] });
      assert.equal(xs.length, 6);
      return h.dd.db.conn.db.prepare("SELECT dep_id, state FROM dep_ends ORDER BY seq").all();
    };
    const kept = [run(a, 0), run(b, 60)];
    assert.deepEqual(kept[1], kept[0], "both keep the same ends");
  } finally {
    await a.close();
    await b.close();
  }
});
