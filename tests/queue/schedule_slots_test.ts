// Schedule slots: intervals, cron in a time zone across daylight saving, missed slots.

import assert from "node:assert/strict";
import {
  cronProblem,
  firing,
  latestSlotAtOrBefore,
  nextSlotAfter,
} from "../../src/queue/schedule_slots.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

Deno.test("slots: an interval's slots are multiples of everyMs since the epoch", () => {
  assert.equal(nextSlotAfter({ everyMs: 1_000 }, 12_345), 13_000);
  assert.equal(nextSlotAfter({ everyMs: 1_000 }, 13_000), 14_000, "strictly after");
  assert.equal(latestSlotAtOrBefore({ everyMs: 1_000 }, 13_000), 13_000);
  assert.equal(latestSlotAtOrBefore({ everyMs: 1_000 }, 13_999), 13_000);
});

Deno.test("slots: cron in Europe/Berlin keeps wall-clock time through both DST changes", () => {
  const daily = { cron: "30 2 * * *", tz: "Europe/Berlin" };
  const spring: (string | null)[] = [];
  let t = Date.parse("2027-03-26T12:00:00Z");
  for (let i = 0; i < 3; i++) spring.push(iso(t = nextSlotAfter(daily, t)!));
  // 02:30 does not exist on 28 March (02:00 -> 03:00): that day's slot is the gap's end.
  assert.deepEqual(spring, [
    "2027-03-27T01:30:00.000Z", // 02:30 CET
    "2027-03-28T01:00:00.000Z", // 03:00 CEST
    "2027-03-29T00:30:00.000Z", // 02:30 CEST
  ]);
  const autumn: (string | null)[] = [];
  t = Date.parse("2027-10-29T12:00:00Z");
  for (let i = 0; i < 3; i++) autumn.push(iso(t = nextSlotAfter(daily, t)!));
  // 02:30 happens twice on 31 October (03:00 -> 02:00): it fires once.
  assert.deepEqual(autumn, [
    "2027-10-30T00:30:00.000Z",
    "2027-10-31T00:30:00.000Z",
    "2027-11-01T01:30:00.000Z",
  ]);
  assert.equal(
    nextSlotAfter({ cron: "0 9 * * *" }, Date.parse("2027-01-01T09:00:00Z")),
    Date.parse("2027-01-02T09:00:00Z"),
    "UTC by default",
  );
});

Deno.test("slots: a due slot on time fires; a missed one fires only with catchUp last", () => {
  const every = { everyMs: 60_000 };
  assert.deepEqual(firing({ ...every, catchUp: "none" }, 120_100), {
    slotMs: 120_000,
    nextRunAt: 180_000,
  });
  const outage = 120_000 + 10 * 60_000 + 30_000; // ten minutes late
  assert.deepEqual(firing({ ...every, catchUp: "none" }, outage), {
    slotMs: null,
    nextRunAt: 780_000,
  });
  assert.deepEqual(firing({ ...every, catchUp: "last" }, outage), {
    slotMs: 720_000,
    nextRunAt: 780_000,
  });
});

Deno.test("slots: a slot late by the leader's own backlog fires; one from before it led may not", () => {
  const every = { everyMs: 60_000, catchUp: "none" as const };
  const late = 120_000 + 9_000; // the 120,000 slot, 9 s late
  assert.deepEqual(firing(every, late), { slotMs: null, nextRunAt: 180_000 }, "no leader known");
  assert.deepEqual(
    firing(every, late, 100_000),
    { slotMs: 120_000, nextRunAt: 180_000 },
    "due since this leader began: its backlog, not an outage",
  );
  assert.deepEqual(
    firing(every, late, 125_000),
    { slotMs: null, nextRunAt: 180_000 },
    "due before this leader began, and more than 5 s ago: missed",
  );
  assert.deepEqual(
    firing(every, 120_000 + 4_000, 125_000),
    { slotMs: 120_000, nextRunAt: 180_000 },
    "due before, but on time",
  );
});

Deno.test("slots: a cron that cannot be used says why", () => {
  assert.equal(cronProblem("*/5 * * * *"), null);
  assert.equal(cronProblem("0 */5 * * * *"), null, "six fields: seconds first");
  assert.equal(cronProblem("* * * *"), "cron must have 5 or 6 fields");
  assert.equal(cronProblem("* * * * * * *"), "cron must have 5 or 6 fields");
  assert.match(cronProblem("61 * * * *")!, /^cron is not valid: .*minute/);
  assert.equal(cronProblem("0 0 30 2 *"), "cron matches no date (the schedule would never fire)");
  assert.equal(cronProblem("0 0 29 2 *"), null, "a leap day comes round");
  assert.equal(cronProblem("* * * * *", "Mars/Base"), 'tz "Mars/Base" is not an IANA time zone');
});

Deno.test("slots: a pattern parsed once still answers for each time zone and time asked", () => {
  const at = Date.parse("2027-01-01T12:00:00Z");
  const zones = ["UTC", "Asia/Tokyo", "America/New_York", "UTC"];
  // (the same cron text in four zones, asked twice each: the cache is keyed by both)
  const nexts = [...zones, ...zones].map((tz) => iso(nextSlotAfter({ cron: "0 9 * * *", tz }, at)));
  assert.deepEqual(nexts.slice(0, 4), [
    "2027-01-02T09:00:00.000Z",
    "2027-01-02T00:00:00.000Z",
    "2027-01-01T14:00:00.000Z",
    "2027-01-02T09:00:00.000Z",
  ]);
  assert.deepEqual(nexts.slice(4), nexts.slice(0, 4));
  assert.equal(iso(nextSlotAfter({ cron: "0 9 * * *" }, at)), "2027-01-02T09:00:00.000Z");
  assert.equal(
    iso(latestSlotAtOrBefore({ cron: "0 9 * * *", tz: "Asia/Tokyo" }, at)),
    "2027-01-01T00:00:00.000Z",
  );
  assert.equal(
    iso(nextSlotAfter({ cron: "0 9 * * *", tz: "Asia/Tokyo" }, at + 86_400_000)),
    "2027-01-03T00:00:00.000Z",
  );
});

Deno.test("slots: past the 1,000 patterns kept, every pattern still answers for itself", () => {
  const at = Date.parse("2027-01-01T00:00:30Z");
  // 1,200 distinct daily patterns (minute m, hour h), asked twice: the cache empties once full.
  for (let round = 0; round < 2; round++) {
    for (let k = 0; k < 1_200; k++) {
      const [m, h] = [k % 60, Math.floor(k / 60)];
      const want = Date.UTC(2027, 0, 1, h, m) + (h === 0 && m === 0 ? 86_400_000 : 0);
      assert.equal(
        nextSlotAfter({ cron: `${m} ${h} * * *` }, at),
        want,
        `${m} ${h}, round ${round}`,
      );
    }
  }
});
