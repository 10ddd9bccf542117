// The pieces of clock safety: offset estimates, the majority verdict, and the leader's stamps.

import assert from "node:assert/strict";
import { ClockGuard, clockVerdict } from "../../src/node/clock_guard.ts";
import { QueueClock } from "../../src/node/queue_clock.ts";
import {
  type ClockEstimate,
  ClockOffsets,
  offsetTuning,
} from "../../src/transport/clock_offsets.ts";

Deno.test("clock offsets: NTP's estimate, the shortest round trip trusted, old samples forgotten", () => {
  const c = new ClockOffsets();
  // Sent at 1000 (ours), answered at 5010 (theirs), heard at 1020 (ours): +4000 ms, ±10.
  c.record("b", 1000, 5010, 1020, 0);
  // A slow sample (queued 200 ms): its estimate is worse and its uncertainty larger.
  c.record("b", 2000, 6150, 2200, 1);
  const e = c.estimate("b", 2)!;
  assert.equal(e.offsetMs, 4000);
  assert.equal(e.uncertaintyMs, 10);
  assert.equal(c.estimate("b", offsetTuning.maxAgeMs + 10), null, "stale samples do not count");
  c.record("b", 3000, 1, 2990, 3); // our clock stepped back mid-ping: no sample
  assert.equal(c.estimate("c", 0), null);
});

Deno.test("clock verdict: a node leads only while a majority of voters agree with its clock", () => {
  const at = (offsetMs: number) => ({ offsetMs, uncertaintyMs: 1, takenAtMs: 0 });
  const offsets: Record<string, number> = { b: 20, c: 3_600_000, d: -3_600_000, e: 100 };
  const est = (id: string) => (id in offsets ? at(offsets[id]) : null);
  assert.equal(clockVerdict("a", ["a"], est, 500).mayLead, true, "a lone voter always may");
  assert.equal(clockVerdict("a", ["a", "b", "c"], est, 500).mayLead, true);
  const skewed = clockVerdict("a", ["a", "c", "d"], est, 500);
  assert.equal(skewed.mayLead, false);
  assert.deepEqual(skewed.beyond.map((b) => b.id), ["c", "d"]);
  assert.equal(
    clockVerdict("a", ["a", "x", "y"], est, 500).mayLead,
    false,
    "unknown is not agreement",
  );
  assert.equal(clockVerdict("a", ["a", "b", "e", "c", "d"], est, 500).mayLead, true);
  assert.equal(clockVerdict("a", ["a", "b", "e", "c", "d"], est, 50).mayLead, false);
});

Deno.test("queue clock: stamps follow the wall clock, never go back, never stand still", () => {
  let wall = 10_000;
  let mono = 0;
  const clock = new QueueClock(() => wall, () => mono);
  clock.restart(0);
  assert.equal(clock.next(0), 10_000);
  mono += 100;
  wall += 100;
  assert.equal(clock.next(0), 10_100);
  // The wall clock steps back an hour: stamps go on at the monotonic rate.
  wall -= 3_600_000;
  mono += 250;
  assert.equal(clock.next(0), 10_350);
  mono += 1_000;
  assert.equal(clock.peek(0), 11_350);
  // A new leader whose clock is 45 s behind the queue's: it continues from the queue's clock.
  const follower = new QueueClock(() => 100_000, () => mono);
  follower.restart(145_000);
  mono += 2_000;
  assert.equal(follower.next(145_000), 147_000);
  // Many stamps in a row lose no time to rounding.
  const fine = new QueueClock(() => 0, () => mono);
  fine.restart(0);
  for (let i = 0; i < 1000; i++) {
    mono += 0.4;
    fine.next(0);
  }
  assert.equal(fine.peek(0), 400);
});

Deno.test("clock guard: a verdict's change is told once; a barred leader hands over every 2 s at most", () => {
  const offsets = new Map<string, ClockEstimate>();
  const told: string[] = [];
  let mayLead = true;
  let handOvers = 0;
  const guard = new ClockGuard({
    selfId: "a",
    voters: () => ["a", "b", "c"],
    estimate: (id) => offsets.get(id) ?? null,
    maxOffsetMs: 500,
    setMayLead: (may) => (mayLead = may),
    isLeader: () => true,
    handOver: () => {
      handOvers++;
      throw new Error("no voter to hand over to"); // (swallowed: a later check tries again)
    },
    onVerdict: (v) => told.push(v.mayLead ? "ok" : "barred"),
  });
  const far = { offsetMs: 60_000, uncertaintyMs: 5, takenAtMs: 0 };
  offsets.set("b", far);
  offsets.set("c", far);
  guard.check(10_000);
  guard.check(11_000);
  assert.deepEqual([mayLead, guard.mayLead, handOvers, told], [false, false, 1, ["barred"]]);
  guard.check(12_500);
  assert.equal(handOvers, 2);
  offsets.set("c", { offsetMs: 20, uncertaintyMs: 5, takenAtMs: 0 });
  guard.check(13_000);
  assert.deepEqual([mayLead, handOvers, told], [true, 2, ["barred", "ok"]]);
});
