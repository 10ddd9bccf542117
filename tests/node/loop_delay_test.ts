// The tick timer's lateness: each tick's delay, the longest of the last minute, and log lines rationed.

import assert from "node:assert/strict";
import { LoopDelay } from "../../src/node/loop_delay.ts";

Deno.test("loop delay: a tick on time is 0 late, a held loop makes the next tick late by the hold", () => {
  const d = new LoopDelay(50);
  assert.equal(d.tick(1_000), 0, "the first tick has nothing to be late against");
  assert.equal(d.tick(1_050), 0);
  assert.equal(d.tick(1_098), 0, "early counts as on time");
  assert.equal(d.tick(1_328), 180);
  assert.equal(d.tick(1_378), 0);
  assert.equal(d.maxRecentMs(1_400), 180);
});

/** Ticks every 50 ms from `fromMs` through `toMs`, each on time. */
function onTime(d: LoopDelay, fromMs: number, toMs: number): void {
  for (let t = fromMs; t <= toMs; t += 50) assert.equal(d.tick(t), 0);
}

Deno.test("loop delay: the longest of the last minute forgets what is older", () => {
  const d = new LoopDelay(50);
  onTime(d, 0, 1_000);
  assert.equal(d.tick(1_350), 300);
  onTime(d, 1_400, 20_000);
  assert.equal(d.tick(20_130), 80);
  onTime(d, 20_180, 59_980);
  assert.equal(d.maxRecentMs(59_999), 300, "the 10 s window it fell in is within the minute");
  onTime(d, 60_030, 60_030);
  assert.equal(d.maxRecentMs(60_030), 80, "its window left the minute; the next longest stays");
  onTime(d, 60_080, 90_000);
  assert.equal(d.maxRecentMs(90_000), 0);
});

Deno.test("loop delay: a long delay is reported once in 10 s", () => {
  const d = new LoopDelay(50);
  assert.equal(d.shouldReport(1_000), true);
  assert.equal(d.shouldReport(5_000), false);
  assert.equal(d.shouldReport(10_999), false);
  assert.equal(d.shouldReport(11_000), true);
});

Deno.test("loop delay: the first tick is late against the timer's start", () => {
  const d = new LoopDelay(50);
  d.start(1_000);
  assert.equal(d.tick(1_850), 800, "a hold before the first tick");
  assert.equal(d.maxRecentMs(1_900), 800);
});
