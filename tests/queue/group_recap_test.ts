// A change of groupConcurrency sets the groups' active flags again a bounded number an entry: what
// a claim sees while a recap goes on, and that ticks finish it.

import assert from "node:assert/strict";
import type { QueueConfig } from "../../src/queue/queue_config.ts";
import { type Harness, misflaggedGroups, withHarness } from "../helpers/queue_harness.ts";

function configure(h: Harness, stampMs: number, config: QueueConfig) {
  assert.equal(h.apply(stampMs, { type: "configure", queue: "q", config }).type, "configured");
}

/** `perGroup` jobs in each of groups g0..g(n-1). */
function fillGroups(h: Harness, n: number, perGroup: number) {
  const jobs = [];
  for (let g = 0; g < n; g++) {
    for (let k = 0; k < perGroup; k++) jobs.push({ payload: { g }, group: `g${g}` });
  }
  h.enqueue(1, "q", ...jobs);
}

const groupOf = (j: { payload: { text: string } }) => JSON.parse(j.payload.text).g as number;

/** Ticks until no recap is under way; how many it took. */
function tickUntilDone(h: Harness, stampMs: number): number {
  let ticks = 0;
  for (; h.sm.workPending && ticks < 100; ticks++) {
    h.apply(stampMs, { type: "tick", retentionMs: 60_000 });
  }
  return ticks;
}

Deno.test("recap: a raised cap reaches the groups of 4 leased jobs an entry, then every group", () =>
  withHarness((h) => {
    configure(h, 1, { groupConcurrency: 1 });
    fillGroups(h, 10, 3);
    assert.equal(h.claim(2, "q", 100).length, 10, "one job of each group");
    assert.deepEqual(h.claim(3, "q", 100), [], "every group at its cap");
    configure(h, 4, { groupConcurrency: 3 });
    assert.ok(h.sm.groups.recapPending, "10 leased jobs: more than one entry's 4");
    assert.equal(misflaggedGroups(h.dd).length, 6, "the groups of the first 4 are set");
    assert.equal(h.sm.nextDueMs(60_000), 4, "a tick is due at once");
    assert.equal(tickUntilDone(h, 5), 2);
    assert.deepEqual(misflaggedGroups(h.dd), []);
    const claimed = h.claim(6, "q", 100);
    assert.equal(claimed.length, 20, "two more of each group");
    assert.equal(new Set(claimed.map(groupOf)).size, 10);
  }, { recapJobsPerEntry: 4 }));

Deno.test("recap: a lowered cap holds at once; a claim sets aside the groups not yet recapped", () =>
  withHarness((h) => {
    configure(h, 1, { groupConcurrency: 3 });
    fillGroups(h, 10, 4);
    assert.equal(h.claim(2, "q", 20).length, 20, "two of each group");
    configure(h, 3, { groupConcurrency: 1 });
    assert.ok(h.sm.groups.recapPending);
    assert.ok(misflaggedGroups(h.dd).length > 0, "groups not yet recapped look active");
    h.enqueue(4, "q", { payload: { g: 99 }, group: "fresh" });
    // Every old group holds two leases, over the new cap: the claim takes the fresh group's job
    // and nothing else, though the old groups come first in the round.
    assert.deepEqual(h.claim(5, "q", 100).map(groupOf), [99]);
    assert.deepEqual(misflaggedGroups(h.dd), [], "the claim set the groups it met");
    assert.equal(h.sm.claimableAt("q", 6), null);
    tickUntilDone(h, 7);
    assert.ok(!h.sm.groups.recapPending);
  }, { recapJobsPerEntry: 4 }));

Deno.test("recap: a second change starts over; a recap survives a restart", () =>
  withHarness((h) => {
    configure(h, 1, { groupConcurrency: 1 });
    fillGroups(h, 12, 2);
    assert.equal(h.claim(2, "q", 100).length, 12);
    configure(h, 3, { groupConcurrency: 2 });
    h.apply(4, { type: "tick", retentionMs: 60_000 });
    configure(h, 5, { groupConcurrency: 1 }); // back: the groups set by the first are unset
    configure(h, 6, { groupConcurrency: 2 });
    h.restart({ recapJobsPerEntry: 5 });
    assert.ok(h.sm.groups.recapPending, "read back from its table");
    assert.equal(tickUntilDone(h, 7), 2);
    assert.deepEqual(misflaggedGroups(h.dd), []);
    assert.equal(h.claim(8, "q", 100).length, 12, "the second job of each group");
  }, { recapJobsPerEntry: 5 }));

Deno.test("recap: it reads the leased jobs by an index and sets each group by its key", () =>
  withHarness((h) => {
    const plans = h.sm.queryPlans();
    assert.match(plans["groups.leasedAfter"], /USING INDEX jobs_list \(queue=\? AND state=\? AND/);
    assert.ok(!/TEMP B-TREE/.test(plans["groups.leasedAfter"]), plans["groups.leasedAfter"]);
    assert.match(
      plans["groups.recapGroup"],
      /sqlite_autoindex_queue_groups_1 \(queue=\? AND grp=\?\)/,
    );
  }));

Deno.test("recap: a claim sets aside at most about 1,000 stale groups; the next goes on", () =>
  withHarness((h) => {
    configure(h, 1, { groupConcurrency: 3 });
    for (let at = 0; at < 1200; at += 400) {
      const jobs = [];
      for (let g = at; g < at + 400; g++) {
        for (let k = 0; k < 3; k++) jobs.push({ payload: { g }, group: `g${g}` });
      }
      h.enqueue(1, "q", ...jobs);
    }
    assert.equal(h.claim(2, "q", 2400).length, 2400, "two of each group");
    configure(h, 3, { groupConcurrency: 1 }); // one leased job recapped an entry: 1,199 groups stale
    h.enqueue(4, "q", { payload: { g: -1 }, group: "fresh" });
    assert.deepEqual(
      h.claim(5, "q", 1),
      [],
      "the first claim stops after its share of stale groups",
    );
    const stale = misflaggedGroups(h.dd).length;
    assert.ok(stale > 0 && stale <= 1199 - 1000, `${stale} groups still stale`);
    assert.deepEqual(
      h.claim(6, "q", 1).map(groupOf),
      [-1],
      "the next claim reaches the fresh group",
    );
  }, { recapJobsPerEntry: 1 }));
