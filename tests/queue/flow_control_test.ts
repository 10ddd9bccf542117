// Fair groups and exact limits in the state machine: round robin, groupConcurrency, concurrency,
// rateLimit, the group listing, and the indexes that keep a claim cheap with many groups.

import assert from "node:assert/strict";
import type { NewJob } from "../../src/queue/commands.ts";
import type { QueueConfig } from "../../src/queue/queue_config.ts";
import { type Harness, withHarness } from "../helpers/queue_harness.ts";
import { Prng } from "../sim/prng.ts";

/** `n` jobs of `group` (none when undefined) in entries of at most 1,000. */
function fill(h: Harness, stampMs: number, queue: string, n: number, group?: string) {
  for (let at = 0; at < n; at += 1000) {
    const jobs = Array.from({ length: Math.min(1000, n - at) }, (_, k) => ({
      payload: { group, k: at + k },
      ...(group === undefined ? {} : { group }),
    }));
    h.enqueue(stampMs, queue, ...jobs);
  }
}

function configure(h: Harness, stampMs: number, queue: string, config: QueueConfig) {
  assert.equal(h.apply(stampMs, { type: "configure", queue, config }).type, "configured");
}

/** The group of each job claimed, from their payloads. */
function groupsOf(jobs: { payload: { text: string } }[]): (string | undefined)[] {
  return jobs.map((j) => JSON.parse(j.payload.text).group);
}

Deno.test("groups: one group's 10,000 jobs do not starve ten small groups", () =>
  withHarness((h) => {
    fill(h, 1, "q", 10_000, "big");
    for (let g = 0; g < 10; g++) fill(h, 1, "q", 10, `small-${g}`);
    const served: (string | undefined)[] = [];
    for (let i = 0; i < 20; i++) served.push(...groupsOf(h.claim(2, "q")));
    assert.equal(new Set(served).size, 11, `the first 20 claims served ${[...new Set(served)]}`);
    assert.equal(served.filter((g) => g === "big").length, 2, "big took its turn twice");
    // A claim of many takes an even share from each group with ready jobs.
    const batch = groupsOf(h.claim(3, "q", 11));
    assert.equal(new Set(batch).size, 11, `one claim of 11 served ${batch}`);
  }));

Deno.test("groups: jobs without a group take their turn like a group; order inside a group", () =>
  withHarness((h) => {
    h.enqueue(1, "q", { payload: { n: 1 } }, { payload: { n: 2 }, priority: 5 });
    h.enqueue(1, "q", { payload: { n: 3 }, group: "a" }, { payload: { n: 4 }, group: "a" });
    const order = [];
    for (let i = 0; i < 4; i++) order.push(JSON.parse(h.claim(2, "q")[0].payload.text).n);
    assert.deepEqual(order, [2, 3, 1, 4], "turns alternate; priority, then age, inside each");
    assert.deepEqual(h.claim(3, "q"), []);
  }));

Deno.test("groups: groupConcurrency 1 leases one job of a group at a time, in order", () =>
  withHarness((h) => {
    configure(h, 1, "q", { groupConcurrency: 1 });
    fill(h, 1, "q", 3, "a");
    fill(h, 1, "q", 2, "b");
    h.enqueue(1, "q", { payload: { free: 1 } }, { payload: { free: 2 } });
    const first = h.claim(2, "q", 10);
    assert.deepEqual(groupsOf(first).sort(), ["a", "b", undefined, undefined].sort());
    assert.deepEqual(h.claim(3, "q", 10), [], "a and b each hold a lease; nothing else is free");
    assert.equal(h.sm.claimableAt("q", 3), null, "a long poll waits to be woken");
    const a = first.find((j) => groupsOf([j])[0] === "a")!;
    assert.equal(h.apply(4, { type: "ack", id: a.id, lease: a.lease }).type, "acked");
    assert.equal(h.sm.claimableAt("q", 4), 4);
    const next = h.claim(5, "q", 10);
    assert.deepEqual(next.map((j) => JSON.parse(j.payload.text)), [{ group: "a", k: 1 }]);
    // Loosening the cap frees the groups at once.
    configure(h, 6, "q", {});
    assert.deepEqual(groupsOf(h.claim(7, "q", 10)).sort(), ["a", "b"]);
  }));

Deno.test("groups: claimableAt says a claim would lease exactly when one does, capped or not", () =>
  withHarness((h) => {
    const rng = new Prng(7);
    const rand = (n: number) => rng.int(n);
    const leased: { id: string; lease: string }[] = [];
    let heldBack = 0; // claims a cap alone refused: ready jobs, every group with one at its cap
    for (let t = 1; t <= 600; t++) {
      const step = rand(10);
      if (step < 3) {
        const group = ["a", "b", undefined][rand(3)];
        h.enqueue(t, "q", { payload: t, group });
      } else if (step === 3 && leased.length > 0) {
        const [job] = leased.splice(rand(leased.length), 1);
        assert.equal(h.apply(t, { type: "ack", ...job }).type, "acked");
      } else if (step === 4) {
        configure(h, t, "q", rand(4) === 0 ? {} : { groupConcurrency: 1 + rand(2) });
      } else {
        const claimable = h.sm.claimableAt("q", t) !== null;
        const got = h.claim(t, "q");
        assert.equal(claimable, got.length > 0, `at ${t}`);
        if (!claimable && h.sm.queueView("q").ready > 0) heldBack++;
        leased.push(...got);
      }
    }
    assert.ok(heldBack >= 10, `only ${heldBack} claims were held back by a cap alone`);
  }));

Deno.test("groups: a lease that ends any way frees its group's turn", () =>
  withHarness((h) => {
    configure(h, 1, "q", { groupConcurrency: 1 });
    fill(h, 1, "q", 6, "a");
    const take = (at: number) => h.claim(at, "q", 5, 1_000)[0];
    let job = take(2);
    h.apply(3, { type: "nack", id: job.id, lease: job.lease, retryDelayMs: 0 });
    job = take(4);
    h.apply(5, { type: "release", id: job.id, lease: job.lease });
    job = take(6);
    h.apply(7, { type: "cancel", id: job.id });
    job = take(8);
    h.apply(8, { type: "nack", id: job.id, lease: job.lease, final: true });
    job = take(9);
    assert.ok(job, "after a final nack");
    assert.equal(take(10), undefined, "still one at a time");
    job = take(2_000); // the lease expired at 1,009: the job is ready again, and taken
    assert.ok(job, "after a lease expiry");
    h.apply(2_001, { type: "retryDead", queue: "q", id: h.sm.listJobs("q", "dead", 1).jobs[0].id });
    assert.deepEqual(h.sm.groupPage("q", "", 10), [{ group: "a", ready: 4, leased: 1 }]);
  }));

Deno.test("groups: no group row outlives its jobs; the listing filters by group", () =>
  withHarness((h) => {
    fill(h, 1, "q", 3, "a");
    fill(h, 1, "q", 2, "b");
    h.enqueue(1, "q", { payload: 0, group: "a", delayMs: 100 });
    assert.deepEqual(h.sm.groupPage("q", "", 10), [
      { group: "a", ready: 3, leased: 0 },
      { group: "b", ready: 2, leased: 0 },
    ]);
    assert.deepEqual(h.sm.groupPage("q", "a", 10).map((g) => g.group), ["b"], "a cursor");
    const page = h.sm.listJobs("q", undefined, 10, undefined, "a");
    assert.equal(page.jobs.length, 4);
    assert.ok(page.jobs.every((j) => j.group === "a"));
    assert.equal(h.sm.listJobs("q", "delayed", 10, undefined, "a").jobs.length, 1);
    for (const j of h.claim(2, "q", 10)) h.apply(3, { type: "ack", id: j.id, lease: j.lease });
    h.apply(200, { type: "tick", retentionMs: 1_000_000 }); // the delayed job becomes ready
    const [last] = h.claim(201, "q");
    h.apply(202, { type: "ack", id: last.id, lease: last.lease });
    assert.deepEqual(h.sm.groupPage("q", "", 10), []);
    assert.equal(h.sm.claimableAt("q", 203), null);
  }));

Deno.test("groups: counts an entry keeps to write at its end go when the entry fails", () =>
  withHarness((h) => {
    fill(h, 1, "q", 4, "a");
    // A trigger stands in for any deterministic failure midway through an entry's claims.
    h.dd.db.conn.db.exec(`CREATE TRIGGER refuse_boom BEFORE UPDATE ON jobs
      WHEN NEW.worker = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`);
    const claim = (worker: string) => ({ type: "claim" as const, queue: "q", worker, max: 1 });
    const entries = [
      h.entry(2, { type: "merged", cmds: [claim("w"), claim("w")] }),
      h.entry(2, { type: "merged", cmds: [claim("w"), claim("boom")] }),
      h.entry(2, claim("w")),
    ];
    const r = h.sm.applyEntries(entries);
    assert.equal(r.get(entries[1].index)?.type, "error", "the entry with the refused claim");
    assert.equal(r.get(entries[2].index)?.type, "claimed");
    assert.deepEqual(h.sm.groupPage("q", "", 10), [{ group: "a", ready: 1, leased: 3 }]);
    const [last] = h.claim(3, "q");
    h.apply(4, { type: "ack", id: last.id, lease: last.lease });
    assert.deepEqual(h.sm.groupPage("q", "", 10), [{ group: "a", ready: 0, leased: 3 }]);
  }));

Deno.test("limits: concurrency caps the queue's leases; a claim takes only what is left", () =>
  withHarness((h) => {
    configure(h, 1, "q", { concurrency: 3 });
    fill(h, 1, "q", 10);
    assert.equal(h.claim(2, "q", 2).length, 2);
    const [third, ...rest] = h.claim(3, "q", 5);
    assert.equal(rest.length, 0, "one left under the cap");
    assert.equal(h.sm.claimableAt("q", 4), null);
    h.apply(5, { type: "ack", id: third.id, lease: third.lease });
    assert.equal(h.claim(6, "q", 5).length, 1);
  }));

Deno.test("limits: rateLimit counts claims per window of the stamped clock", () =>
  withHarness((h) => {
    configure(h, 1, "q", { rateLimit: { max: 3, perMs: 1_000 } });
    fill(h, 1, "q", 10);
    assert.equal(h.claim(1_000, "q", 2).length, 2);
    assert.equal(h.claim(1_500, "q", 5).length, 1, "three in the window [1000, 2000)");
    assert.equal(h.claim(1_999, "q", 5).length, 0);
    assert.equal(h.sm.claimableAt("q", 1_999), 2_000, "a long poll waits for the next window");
    assert.equal(h.claim(2_000, "q", 5).length, 3);
    assert.equal(h.claim(3_100, "q", 1).length, 1);
  }));

Deno.test("groups: with 100,000 groups a claim reads indexes, never the groups", () =>
  withHarness((h) => {
    const jobs: Omit<NewJob, "payload">[] = [];
    for (let g = 0; g < 100_000; g++) jobs.push({ delayMs: 0, priority: 0, group: `g${g}` });
    for (let at = 0; at < jobs.length; at += 1000) {
      h.enqueue(1, "q", ...jobs.slice(at, at + 1000));
    }
    const claimed = h.claim(2, "q", 100);
    assert.equal(claimed.length, 100);
    assert.deepEqual(claimed.map((j) => j.id), jobs.slice(0, 100).map((_, k) => `1-${k}`));
    const plans = h.sm.queryPlans();
    assert.match(plans.best, /jobs_ready/);
    assert.match(plans["groups.next"], /queue_groups_turn/);
    assert.match(plans["groups.lastTurn"], /queue_groups_turn/);
    assert.match(plans["groups.counts"], /USING INDEX sqlite_autoindex_queue_groups_1/);
    assert.match(h.sm.listing.groupPlan(), /jobs_group_list/);
    assert.ok(!/TEMP B-TREE/.test(plans["groups.next"]), plans["groups.next"]);
  }));
