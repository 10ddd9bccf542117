// A follower's forwarded proposals: answered by id from the peer they went to; a timeout or the
// close of a link to that peer makes the outcome unknown, never a hang.

import assert from "node:assert/strict";
import { PendingProposals, ProposalFailed } from "../../src/transport/proposals.ts";

async function failure(p: Promise<unknown>): Promise<ProposalFailed["error"]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProposalFailed);
    return err.error;
  }
  throw new Error("it did not fail");
}

Deno.test("proposals: an answer settles its proposal, and only from the peer it went to", async () => {
  const pending = new PendingProposals();
  const first = pending.start("n1", 10_000);
  const second = pending.start("n1", 10_000);
  assert.equal(
    pending.answer("n2", first.id, { result: { type: "acked" } }),
    false,
    "another peer",
  );
  // The peer may answer on its other link to this node: the answer is still its own.
  assert.ok(pending.answer("n1", first.id, { result: { type: "acked", id: "1-0" } }));
  assert.deepEqual(await first.answer, { type: "acked", id: "1-0" });
  pending.answer("n1", second.id, { error: { code: "lease_mismatch", message: "old lease" } });
  assert.deepEqual(await failure(second.answer), { code: "lease_mismatch", message: "old lease" });
  assert.equal(
    pending.answer("n1", first.id, { result: { type: "acked" } }),
    false,
    "answered once",
  );
  assert.equal(pending.size, 0);
});

Deno.test("proposals: a closed link or no answer in time is outcome_unknown", async () => {
  const pending = new PendingProposals();
  const cut = pending.start("n1", 10_000);
  const elsewhere = pending.start("n2", 10_000);
  pending.linkClosed("n1"); // (either link to n1: the answer might have come on it)
  assert.equal((await failure(cut.answer)).code, "outcome_unknown");
  assert.equal(pending.size, 1, "the other peer's proposal still waits");
  const late = pending.start("n1", 20);
  assert.equal((await failure(late.answer)).code, "outcome_unknown");
  pending.linkClosed("n2");
  assert.equal((await failure(elsewhere.answer)).code, "outcome_unknown");
  assert.equal(pending.size, 0);
});

Deno.test("proposals: each times out at its own deadline, not before, in deadline order", async () => {
  const pending = new PendingProposals();
  const startedMs = performance.now();
  const ended: string[] = [];
  const waits = ([["a", 60], ["b", 20], ["c", 40]] as const).map(async ([name, timeoutMs]) => {
    const error = await failure(pending.start("n1", timeoutMs).answer);
    assert.equal(error.code, "outcome_unknown");
    assert.match(error.message, new RegExp(`within ${timeoutMs} ms`));
    assert.ok(performance.now() - startedMs >= timeoutMs - 1, `${name} ended early`);
    ended.push(name);
  });
  const answered = pending.start("n1", 10_000);
  await Promise.all(waits);
  assert.deepEqual(ended, ["b", "c", "a"]);
  assert.equal(pending.size, 1, "the proposal with a later deadline still waits");
  pending.answer("n1", answered.id, { result: { type: "acked" } });
  assert.deepEqual(await answered.answer, { type: "acked" });
  assert.equal(pending.size, 0); // (and no timer is left: the test's sanitizer checks)
});
