// Long-poll waiters: woken the longest waiting first, as many as asked.

import assert from "node:assert/strict";
import { Waiters } from "../../src/api/long_poll.ts";

Deno.test("waiters: a wake with a limit wakes the longest waiting first; by default, all", async () => {
  const waiters = new Waiters();
  const woken: number[] = [];
  const waits = [0, 1, 2, 3].map((k) => waiters.wait("q", 60_000).then(() => woken.push(k)));
  waiters.wake("q", 0);
  waiters.wake("other");
  waiters.wake("q", 2);
  await Promise.all(waits.slice(0, 2));
  assert.deepEqual(woken, [0, 1]);
  assert.equal(waiters.size, 2, "two still wait");
  waiters.wake("q");
  await Promise.all(waits);
  assert.deepEqual(woken, [0, 1, 2, 3]);
  assert.equal(waiters.size, 0);
});
