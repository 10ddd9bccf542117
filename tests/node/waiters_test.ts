// What a node's waiting writes and reads are answered: by their entry's term, deadline and apply.

import assert from "node:assert/strict";
import { RaftqError } from "../../src/errors.ts";
import type { ApplyResult } from "../../src/queue/results.ts";
import type { Entry } from "../../src/raft/mod.ts";
import { ReadRequests } from "../../src/node/read_requests.ts";
import { WriteWaiters } from "../../src/node/write_waiters.ts";

const unknown = () => new RaftqError("outcome_unknown", "unknown");
const noLeader = () => new RaftqError("no_leader", "no leader", 1);
const entry = (index: number, term: number): Entry => ({ index, term, kind: "normal", data: "" });

/** Follows a promise from the start: `seen()` is its value, its error's code, or "pending". */
function track(p: Promise<unknown>): { seen(): Promise<unknown> } {
  let seen: unknown = "pending";
  p.then((v) => (seen = v), (e: RaftqError) => (seen = e.code));
  // (after the microtasks that settle it have run)
  return { seen: () => new Promise((resolve) => setTimeout(() => resolve(seen), 0)) };
}

function waiting(waiters: WriteWaiters, index: number, term: number, deadlineMs = 1_000) {
  return track(
    new Promise<ApplyResult>((resolve, reject) =>
      waiters.add(index, { term, resolve, reject, deadlineMs })
    ),
  );
}

Deno.test("write waiters: the entry of the write's term answers it; another term's is unknown", async () => {
  const waiters = new WriteWaiters(unknown);
  const ours = waiting(waiters, 5, 2);
  const replaced = waiting(waiters, 6, 2);
  const result: ApplyResult = { type: "acked", id: "5-0" };
  waiters.answer([entry(5, 2), entry(6, 3)], new Map([[5, result]]));
  assert.equal(await ours.seen(), result);
  assert.equal(await replaced.seen(), "outcome_unknown");
  assert.equal(waiters.has(5) || waiters.has(6), false);
});

Deno.test("write waiters: a sweep answers only the writes past their deadline", async () => {
  const waiters = new WriteWaiters(unknown);
  const early = waiting(waiters, 1, 1, 100);
  const late = waiting(waiters, 2, 1, 200);
  waiters.expire(150);
  assert.equal(await early.seen(), "outcome_unknown");
  assert.equal(await late.seen(), "pending");
  waiters.failAll();
  assert.equal(await late.seen(), "outcome_unknown");
});

Deno.test("read requests: served only once the read index is applied", async () => {
  let applied = 8;
  const reads = new ReadRequests("n1", () => applied, noLeader);
  const confirmed = track(reads.request());
  const [id] = reads.takeToStart();
  assert.equal(id, "n1:1");
  assert.deepEqual(reads.takeToStart(), []);
  reads.settle([{ id, index: 9 }], []);
  assert.equal(await confirmed.seen(), 9);
  const served = track(reads.appliedUpTo(9));
  reads.release();
  assert.equal(await served.seen(), "pending");
  applied = 9;
  reads.release();
  assert.equal(await served.seen(), undefined);
});

Deno.test("read requests: a dropped read fails; a role change fails every read at either stage", async () => {
  const reads = new ReadRequests("n1", () => 10, noLeader);
  const dropped = track(reads.request());
  const unstarted = track(reads.request());
  const [first] = reads.takeToStart();
  reads.settle([], [first]);
  assert.equal(await dropped.seen(), "no_leader");
  const applying = track(reads.appliedUpTo(20));
  reads.failAll();
  assert.equal(await unstarted.seen(), "no_leader");
  assert.equal(await applying.seen(), "no_leader");
  assert.deepEqual(reads.takeToStart(), []);
});
