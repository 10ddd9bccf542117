// The in-memory log and the quorum arithmetic, alone.

import assert from "node:assert/strict";
import { emptySnapshot, type Entry, RaftLog } from "../../src/raft/mod.ts";
import { majorityIndex, voteOutcome } from "../../src/raft/quorum.ts";

const e = (index: number, term: number) => ({ index, term, kind: "normal" as const, data: "" });

Deno.test("log: term look-ups around a snapshot", () => {
  const log = new RaftLog({
    snapshot: { index: 5, term: 2, membership: { members: [] } },
    entries: [e(6, 2), e(7, 3)],
  });
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.lastIndex(), 7);
  assert.equal(log.term(5), 2);
  assert.equal(log.term(4), undefined);
  assert.equal(log.term(8), undefined);
  assert.throws(() => log.slice(5, 7), RangeError);
});

Deno.test("log: refuses non-contiguous entries and terms that go back", () => {
  assert.throws(
    () => new RaftLog({ snapshot: emptySnapshot, entries: [e(1, 1), e(3, 1)] }),
    /contiguous/,
  );
  assert.throws(
    () => new RaftLog({ snapshot: emptySnapshot, entries: [e(1, 2), e(2, 1)] }),
    /term goes back/,
  );
});

Deno.test("log: slice respects a byte budget but returns at least one entry", () => {
  const log = new RaftLog({ snapshot: emptySnapshot, entries: [e(1, 1), e(2, 1), e(3, 1)] });
  assert.equal(log.slice(1, 4, 1).length, 1);
  assert.equal(log.slice(1, 4, 70).length, 2);
  assert.equal(log.slice(1, 4).length, 3);
});

Deno.test("log: findConflictByTerm finds the last index with a term at or below", () => {
  const log = new RaftLog({
    snapshot: emptySnapshot,
    entries: [e(1, 1), e(2, 1), e(3, 3), e(4, 3), e(5, 5)],
  });
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

Deno.test("log: persisted entries beyond the memory budget are read back through the reader", () => {
  const stored = new Map<number, Entry>();
  const reads: [number, number][] = [];
  const reader = (lo: number, hi: number, maxBytes: number) => {
    reads.push([lo, hi]);
    const out = [];
    let bytes = 0;
    for (let i = lo; i < hi && stored.has(i); i++) {
      bytes += 40;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(stored.get(i)!);
    }
    return out;
  };
  const log = new RaftLog({ snapshot: emptySnapshot, entries: [] }, reader, 100);
  const conf = {
    index: 3,
    term: 1,
    kind: "conf" as const,
    data: "",
    change: { type: "addLearner" as const, id: "d", url: "u" },
  };
  const entries = [e(1, 1), e(2, 1), conf, e(4, 2), e(5, 2), e(6, 2)];
  log.appendNew(entries);
  for (const x of entries) stored.set(x.index, x);
  log.evict(3); // only persisted entries (up to 3) may go
  assert.equal(log.slice(4, 7).length, 3);
  assert.equal(reads.length, 0, "the unpersisted tail stays in memory");
  log.evict(6);
  assert.deepEqual(log.slice(1, 7).map((x) => x.index), [1, 2, 3, 4, 5, 6]);
  assert.ok(reads.length > 0, "older entries came from the reader");
  assert.equal(log.term(2), 1, "terms of evicted entries are kept");
  assert.deepEqual(log.confEntries().map((x) => x.index), [3]);
  assert.deepEqual(log.slice(1, 7, 60).map((x) => x.index), [1], "byte budgets still hold");
  // A conflict below what memory holds: the log is cut there and takes the new entries.
  log.appendAfterMatch([e(2, 1), e(3, 3)]);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.term(3), 3);
  assert.deepEqual(log.confEntries(), [], "the cut removed the conf entry");
  assert.equal(log.slice(3, 4)[0].term, 3);
});

Deno.test("log: a read back asks the reader only for the entries its byte budget can hold", () => {
  const reads: [number, number][] = [];
  const stored = new Map<number, Entry>();
  const reader = (lo: number, hi: number) => {
    reads.push([lo, hi]);
    return Array.from({ length: hi - lo }, (_, k) => stored.get(lo + k)!);
  };
  const log = new RaftLog({ snapshot: emptySnapshot, entries: [] }, reader, 0);
  // 400 entries of 1,032 bytes as the core counts them, all on disk, none kept in memory.
  const entries = Array.from(
    { length: 400 },
    (_, k) => ({ ...e(k + 1, 1), data: "x".repeat(1000) }),
  );
  log.appendNew(entries);
  for (const x of entries) stored.set(x.index, x);
  log.evict(400);
  assert.deepEqual(log.slice(1, 401, 5_000).map((x) => x.index), [1, 2, 3, 4]);
  assert.deepEqual(reads, [[1, 5]], "four rows asked for, not the 400 of the range");
  assert.equal(log.slice(10, 401, 10).length, 1, "at least one entry, however large");
  assert.deepEqual(reads[1], [10, 11]);
});

Deno.test("log: bytes are counted, and indexKeeping finds where a size-bounded compaction stops", () => {
  const log = new RaftLog({
    snapshot: emptySnapshot,
    entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 1)],
  });
  assert.equal(log.bytes(), 4 * 32);
  assert.equal(log.indexKeeping(64), 2, "entries 3 and 4 fit in 64 bytes");
  log.compact({ index: 2, term: 1, membership: { members: [] } });
  assert.equal(log.bytes(), 64);
  log.truncateFrom(4);
  assert.equal(log.bytes(), 32);
});
