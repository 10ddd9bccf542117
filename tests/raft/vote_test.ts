// The voting rules of the seed and §5.2/§5.4.1, one behaviour each.

import assert from "node:assert/strict";
import type { VoteResponse } from "../../src/raft/mod.ts";
import { drain, lone, voteMsg } from "./harness.ts";

function answer(rd: ReturnType<typeof drain>): VoteResponse {
  const all = [...rd.messages, ...rd.persistedMessages].filter((m) => m.type === "voteResp");
  assert.equal(all.length, 1);
  return all[0] as VoteResponse;
}

Deno.test("vote: granted to a candidate of a newer term with an up-to-date log", () => {
  const r = lone("a", 2, [2]);
  r.step(voteMsg("b", "a", 3, 4, 2));
  const rd = drain(r);
  assert.equal(answer(rd).granted, true);
  assert.equal(r.term, 3);
  assert.equal(r.vote, "b");
});

Deno.test("vote: refused when the candidate's term is older than ours", () => {
  const r = lone("a", 5);
  r.step(voteMsg("b", "a", 4, 10, 4));
  const rd = drain(r);
  // Not even answered: a stale candidate learns our term from others' answers or heartbeats.
  assert.equal(rd.persistedMessages.length + rd.messages.length, 0);
  assert.equal(r.vote, "");
  assert.equal(r.term, 5);
});

Deno.test("vote: refused when we already voted for another candidate in this term", () => {
  const r = lone("a", 3, [], "c");
  r.step(voteMsg("b", "a", 3, 10, 3));
  assert.equal(answer(drain(r)).granted, false);
  assert.equal(r.vote, "c");
});

Deno.test("vote: granted again to the candidate we voted for (retransmission)", () => {
  const r = lone("a", 3, [], "b");
  r.step(voteMsg("b", "a", 3, 3, 1));
  assert.equal(answer(drain(r)).granted, true);
});

Deno.test("vote: refused when the candidate's last log term is older", () => {
  const r = lone("a", 3, [3]);
  r.step(voteMsg("b", "a", 4, 100, 2));
  const rd = drain(r);
  assert.equal(answer(rd).granted, false);
  assert.equal(r.term, 4, "the newer term is still adopted");
  assert.equal(r.vote, "");
});

Deno.test("vote: refused when last terms tie but the candidate's log is shorter", () => {
  const r = lone("a", 2, [2, 2]);
  r.step(voteMsg("b", "a", 3, 4, 2));
  assert.equal(answer(drain(r)).granted, false);
});

Deno.test("vote: granted when last terms tie and the candidate's log is as long", () => {
  const r = lone("a", 2, [2, 2]);
  r.step(voteMsg("b", "a", 3, 5, 2));
  assert.equal(answer(drain(r)).granted, true);
});

Deno.test("vote: the vote is persisted in the same Ready and the answer waits for the write", () => {
  const r = lone("a", 1);
  r.step(voteMsg("b", "a", 2, 3, 1));
  const rd = drain(r);
  assert.deepEqual(rd.hardState, { term: 2, vote: "b", commit: 3 });
  assert.equal(rd.messages.length, 0, "nothing may leave before the vote is durable");
  assert.equal(rd.persistedMessages[0].type, "voteResp");
});

Deno.test("vote: a restarted node remembers its vote and refuses another candidate", () => {
  const r = lone("a", 2, [], "b");
  r.step(voteMsg("c", "a", 2, 3, 1));
  assert.equal(answer(drain(r)).granted, false);
});

Deno.test("vote: a follower that knows the leader of this term refuses other candidates", () => {
  const r = lone("a", 2);
  r.step({ type: "heartbeat", term: 2, from: "b", to: "a", commit: 3, readSeq: 0 });
  drain(r);
  r.step(voteMsg("c", "a", 2, 3, 1));
  assert.equal(answer(drain(r)).granted, false);
});

Deno.test("pre-vote: granted without changing term or vote", () => {
  const r = lone("a", 2);
  r.step(voteMsg("b", "a", 3, 3, 1, true));
  const rd = drain(r);
  const resp = answer(rd);
  assert.equal(resp.granted, true);
  assert.equal(resp.term, 3, "a granted pre-vote answers in the term it was asked for");
  assert.equal(r.term, 2);
  assert.equal(r.vote, "");
});

Deno.test("pre-vote: refused for a stale log, answered in our own term", () => {
  const r = lone("a", 2, [2]);
  r.step(voteMsg("b", "a", 3, 3, 1, true));
  const resp = answer(drain(r));
  assert.equal(resp.granted, false);
  assert.equal(resp.term, 2);
});

Deno.test("any message with a newer term turns a leader into a follower", () => {
  const r = lone("a", 1);
  r.campaign();
  drain(r);
  for (const from of ["b", "c"]) {
    r.step({ type: "voteResp", term: 2, from, to: "a", preVote: true, granted: true });
  }
  drain(r);
  r.step({ type: "voteResp", term: 2, from: "b", to: "a", preVote: false, granted: true });
  drain(r);
  assert.equal(r.role, "leader");
  r.step({ type: "heartbeatResp", term: 7, from: "c", to: "a", readSeq: 0 });
  assert.equal(r.role, "follower");
  assert.equal(r.term, 7);
});
