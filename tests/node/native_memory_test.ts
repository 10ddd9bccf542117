// The quiet trim: glibc's free heap given back at three points of each pause, never mid-burst.

import assert from "node:assert/strict";
import { glibcTrim, QuietTrim } from "../../src/native_memory.ts";

/** A QuietTrim over a counted trim and a log index the test moves; checks are called by hand. */
function harness() {
  const state = { index: 0, trimmed: 0, release: () => {} };
  const quiet = new QuietTrim(
    () => {
      state.trimmed++;
      return new Promise<void>((resolve) => (state.release = resolve));
    },
    () => state.index,
  );
  return { state, quiet };
}

Deno.test("quiet trim: after a burst, at the 1st, 5th and 15th quiet checks; never mid-burst", async () => {
  const { state, quiet } = harness();
  const checks = async (n: number) => {
    for (let k = 0; k < n; k++) {
      quiet.check();
      state.release();
      await quiet.settled();
    }
  };
  await checks(3);
  assert.equal(state.trimmed, 0, "no writes yet: nothing to give back");
  for (let k = 0; k < 5; k++) {
    state.index += 100;
    await checks(1);
  }
  assert.equal(state.trimmed, 0, "writes at every check: no trim mid-burst");
  await checks(1);
  assert.equal(state.trimmed, 1, "the first quiet check trims");
  await checks(3);
  assert.equal(state.trimmed, 1, "quiet checks 2 to 4: none");
  await checks(1);
  assert.equal(state.trimmed, 2, "the 5th: once V8 has collected the burst's buffers");
  await checks(9);
  assert.equal(state.trimmed, 2);
  await checks(1);
  assert.equal(state.trimmed, 3, "the 15th");
  await checks(30);
  assert.equal(state.trimmed, 3, "idle after those: no more");
  state.index += 64;
  await checks(2);
  assert.equal(state.trimmed, 4, "a new burst, then a pause: trimmed again");
});

Deno.test("quiet trim: a start counts as a burst: trimmed at the first quiet check", async () => {
  let trimmed = 0;
  let index = 7;
  // (an hour between its own checks: this test makes every check by hand)
  const quiet = new QuietTrim(() => Promise.resolve(void trimmed++), () => index, 3_600_000);
  quiet.start();
  try {
    index += 3; // (the cluster forming: a few entries, no burst)
    quiet.check();
    assert.equal(trimmed, 0, "not while the log moves");
    quiet.check();
    assert.equal(trimmed, 1, "what compiling and opening left free, given back");
    await quiet.settled();
    for (let k = 0; k < 20; k++) {
      quiet.check();
      await quiet.settled();
    }
    assert.equal(trimmed, 3, "and at the 5th and 15th quiet checks, as after any burst");
  } finally {
    await quiet.stop();
  }
});

Deno.test("quiet trim: a trickle of small entries is not a burst until it adds up", async () => {
  const { state, quiet } = harness();
  for (let k = 1; k <= 63; k++) {
    state.index++; // (a tick entry, then a quiet check)
    quiet.check();
    quiet.check();
  }
  assert.equal(state.trimmed, 0, "63 entries since the start: no trim");
  state.index++;
  quiet.check();
  quiet.check();
  assert.equal(state.trimmed, 1, "the 64th: trimmed");
  state.release();
  await quiet.settled();
  state.index -= 10; // a follower's log cut back to its leader's
  quiet.check();
  state.index += 63;
  quiet.check();
  quiet.check();
  assert.equal(state.trimmed, 1, "counted from where the log was cut back to");
  state.index++;
  quiet.check();
  quiet.check();
  assert.equal(state.trimmed, 2);
  state.release();
  await quiet.settled();
});

Deno.test("quiet trim: a trim still running is not started twice; stop waits for it", async () => {
  const { state, quiet } = harness();
  state.index += 64;
  quiet.check();
  quiet.check();
  assert.equal(state.trimmed, 1);
  state.index += 64;
  quiet.check();
  quiet.check(); // a pause while the first trim runs
  assert.equal(state.trimmed, 1, "one trim at a time");
  let stopped = false;
  const stopping = quiet.stop().then(() => (stopped = true));
  await Promise.resolve();
  assert.equal(stopped, false, "stop waits for the trim in flight");
  state.release();
  await stopping;
  assert.equal(stopped, true);
});

Deno.test("quiet trim: a failed trim is dropped and the next pause tries again", async () => {
  let calls = 0;
  let index = 0;
  const quiet = new QuietTrim(() => {
    calls++;
    return Promise.reject(new Error("no"));
  }, () => index);
  index += 64;
  quiet.check();
  quiet.check();
  await quiet.settled(); // (the failure is swallowed: this resolves)
  index += 64;
  quiet.check();
  quiet.check();
  await quiet.stop();
  assert.equal(calls, 2);
});

Deno.test({
  name: "quiet trim: glibc's malloc_trim is reached through FFI on a glibc build of Deno",
  ignore: Deno.build.os !== "linux" || Deno.build.env !== "gnu",
  fn: async () => {
    const glibc = glibcTrim();
    assert.ok(glibc, "libc.so.6 and its malloc_trim load");
    try {
      await glibc.trim(); // (its signature wrong, the call would throw or crash here)
    } finally {
      glibc.close();
    }
  },
});
