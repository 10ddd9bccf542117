// A follower's forwarded proposals: answered by id on their own link; a timeout or the link's
// close makes the outcome unknown, never a hang.

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

Deno.test("proposals: an answer settles its proposal, and only on the link it went out on", async () => {
  const pending = new PendingProposals();
  const [a, b] = [{}, {}];
  const first = pending.start(a, 10_000);
  const second = pending.start(a, 10_000);
  assert.equal(pending.answer(b, first.id, { result: { type: "acked" } }), false, "another link");
  assert.ok(pending.answer(a, first.id, { result: { type: "acked", id: "1-0" } }));
  assert.deepEqual(await first.answer, { type: "acked", id: "1-0" });
  pending.answer(a, second.id, { error: { code: "lease_mismatch", message: "old lease" } });
  assert.deepEqual(await failure(second.answer), { code: "lease_mismatch", message: "old lease" });
  assert.equal(pending.answer(a, first.id, { result: { type: "acked" } }), false, "answered once");
  assert.equal(pending.size, 0);
});

Deno.test("proposals: a closed link or no answer in time is outcome_unknown", async () => {
  const pending = new PendingProposals();
  const [link, other] = [{}, {}];
  const cut = pending.start(link, 10_000);
  const elsewhere = pending.start(other, 10_000);
  pending.linkClosed(link);
  assert.equal((await failure(cut.answer)).code, "outcome_unknown");
  assert.equal(pending.size, 1, "the other link's proposal still waits");
  const late = pending.start(link, 20);
  assert.equal((await failure(late.answer)).code, "outcome_unknown");
  pending.linkClosed(other);
  assert.equal((await failure(elsewhere.answer)).code, "outcome_unknown");
  assert.equal(pending.size, 0);
});
