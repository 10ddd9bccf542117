// The sampled write's stages: one entry at a time, each stage once, timed from its proposal.

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/mod.ts";
import { abandonAfterMs, type WriteStage, WriteTrace } from "../../src/node/write_trace.ts";

const entries = (first: number, last: number): Entry[] =>
  Array.from({ length: last - first + 1 }, (_, k) => ({
    index: first + k,
    term: 1,
    kind: "normal",
    data: "x",
  }));

function traced() {
  const clock = { ms: 1_000 };
  const seen: [WriteStage, number][] = [];
  const trace = new WriteTrace(() => clock.ms, (stage, s) => seen.push([stage, s]));
  return { clock, seen, trace };
}

Deno.test("write trace: each stage of the followed entry once, in seconds from its proposal", () => {
  const { clock, seen, trace } = traced();
  trace.proposed(5);
  clock.ms += 2;
  trace.reached("sent", entries(6, 9)); // not its entries
  trace.reached("sent", entries(5, 9));
  trace.reached("sent", entries(5, 9)); // the second follower's append
  clock.ms += 1;
  trace.reached("written", entries(3, 5));
  clock.ms += 4;
  trace.reached("committed", entries(1, 7));
  trace.reached("applied", entries(1, 7));
  clock.ms += 1;
  trace.reached("flushed", entries(5, 5));
  assert.deepEqual(seen, [
    ["sent", 0.002],
    ["written", 0.003],
    ["committed", 0.007],
    ["applied", 0.007],
    ["flushed", 0.008],
  ]);
});

Deno.test("write trace: one entry at a time; the next once it is flushed and applied", () => {
  const { clock, seen, trace } = traced();
  trace.proposed(5);
  trace.proposed(6); // still following 5
  trace.reached("applied", entries(6, 6));
  assert.equal(seen.length, 0, "6 was never followed");
  trace.reached("applied", entries(5, 5));
  trace.proposed(7); // 5 is applied but not flushed here yet
  clock.ms += 1;
  trace.reached("flushed", entries(5, 7));
  assert.deepEqual(seen.map(([s]) => s), ["applied", "flushed"]);
  trace.proposed(8);
  clock.ms += 3;
  trace.reached("written", entries(8, 8));
  assert.deepEqual(seen.at(-1), ["written", 0.003], "8 is followed from its own proposal");
});

Deno.test("write trace: an entry that never completes is dropped after a while", () => {
  const { clock, seen, trace } = traced();
  trace.proposed(5); // lost with its leadership: never applied
  clock.ms += abandonAfterMs - 1;
  trace.proposed(9);
  trace.reached("written", entries(9, 9));
  assert.equal(seen.length, 0, "9 was not followed while 5 still was");
  clock.ms += 1;
  trace.proposed(9);
  clock.ms += 2;
  trace.reached("written", entries(9, 9));
  assert.deepEqual(seen, [["written", 0.002]]);
});
