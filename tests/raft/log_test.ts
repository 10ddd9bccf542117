// The in-memory log and the quorum arithmetic, alone.

import assert from "node:assert/strict";
import { RaftLog } from "../../src/raft/mod.ts";
import { majorityIndex, voteOutcome } from "../../src/raft/quorum.ts";

const e = (index: number, term: number) => ({ index, term, kind: "normal" as const, data: "" });

Deno.test("log: term look-ups around a snapshot", () => {
  const log = new RaftLog({ index: 5, term: 2, membership: { members: [] } }, [e(6, 2), e(7, 3)]);
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.lastIndex(), 7);
  assert.equal(log.term(5), 2);
  assert.equal(log.term(4), undefined);
  assert.equal(log.term(8), undefined);
  assert.throws(() => log.slice(5, 7), RangeError);
});

Deno.test("log: refuses non-contiguous entries and terms that go back", () => {
  assert.throws(() => new RaftLog(undefined, [e(1, 1), e(3, 1)]), /contiguous/);
  assert.throws(() => new RaftLog(undefined, [e(1, 2), e(2, 1)]), /term goes back/);
});

Deno.test("log: slice respects a byte budget but returns at least one entry", () => {
  const log = new RaftLog(undefined, [e(1, 1), e(2, 1), e(3, 1)]);
  assert.equal(log.slice(1, 4, 1).length, 1);
  assert.equal(log.slice(1, 4, 70).length, 2);
  assert.equal(log.slice(1, 4).length, 3);
});

Deno.test("log: findConflictByTerm finds the last index with a term at or below", () => {
  const log = new RaftLog(undefined, [e(1, 1), e(2, 1), e(3, 3), e(4, 3), e(5, 5)]);
  assert.equal(log.findConflictByTerm(5, 4), 4);
  assert.equal(log.findConflictByTerm(5, 2), 2);
  assert.equal(log.findConflictByTerm(9, 9), 5);
  assert.equal(log.findConflictByTerm(5, 0), 0);
});

Deno.test("quorum: majority index and vote outcomes", () => {
  const match: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 7 };
  assert.equal(majorityIndex(["a", "b", "c"], (id) => match[id]), 5);
  assert.equal(majorityIndex(["a", "b", "c", "d"], (id) => match[id]), 3);
  assert.equal(majorityIndex(["a", "b", "c", "d", "e"], (id) => match[id]), 5);
  assert.equal(majorityIndex([], () => 9), 0);
  const votes = new Map([["a", true], ["b", false]]);
  assert.equal(voteOutcome(["a", "b", "c"], votes), "pending");
  votes.set("c", true);
  assert.equal(voteOutcome(["a", "b", "c"], votes), "won");
  assert.equal(voteOutcome(["a", "b", "c", "d"], new Map([["b", false], ["c", false]])), "lost");
});
