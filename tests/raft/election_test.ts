// Elections: timeouts, majorities, stepping down, split votes, pre-vote, check-quorum, leases.

import assert from "node:assert/strict";
import { makeRaftConfig, Raft } from "../../src/raft/mod.ts";
import { fixedRandom, lone, TestCluster } from "./harness.ts";

Deno.test("a follower campaigns once its randomized election timeout passes, not before", () => {
  const c = new TestCluster(["a", "b", "c"], { randomOffsets: { a: 3 } });
  c.tick("a", 12);
  assert.equal(c.get("a").role, "follower");
  c.tick("a", 1);
  assert.equal(c.get("a").role, "preCandidate");
});

Deno.test("election timeouts are drawn from [electionTicks, 2 * electionTicks)", () => {
  const draws: number[] = [];
  const r = new Raft(
    makeRaftConfig({
      id: "a",
      electionTicks: 10,
      randomInt: (n) => {
        draws.push(n);
        return n - 1;
      },
    }),
    {
      hardState: { term: 1, vote: "", commit: 0 },
      snapshot: { index: 0, term: 0, membership: { members: [{ id: "a", url: "", voter: true }] } },
      entries: [],
      appliedIndex: 0,
    },
  );
  assert.ok(draws.every((n) => n === 10));
  for (let i = 0; i < 18; i++) r.tick();
  assert.equal(r.role, "follower");
  r.tick();
  assert.equal(r.role, "leader", "a lone voter elects itself after 19 ticks");
});

Deno.test("a candidate with a majority including itself becomes leader and appends a no-op", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const a = c.get("a");
  assert.equal(a.role, "leader");
  assert.equal(a.term, 2);
  const last = a.log.entry(a.log.lastIndex())!;
  assert.equal(last.kind, "noop");
  assert.equal(last.term, 2);
  assert.equal(a.commit, last.index, "the no-op commits");
  assert.equal(c.get("b").leader, "a");
});

Deno.test("a candidate that hears AppendEntries from a leader of its term steps down", () => {
  const r = lone("a", 1);
  r.step({ type: "voteResp", term: 0, from: "b", to: "a", preVote: false, granted: true });
  r.campaign(); // pre-candidate at term 1
  for (const from of ["b"]) {
    r.step({ type: "voteResp", term: 2, from, to: "a", preVote: true, granted: true });
  }
  assert.equal(r.role, "candidate");
  assert.equal(r.term, 2);
  r.step({
    type: "append",
    term: 2,
    from: "c",
    to: "a",
    prevIndex: 3,
    prevTerm: 1,
    entries: [],
    commit: 3,
  });
  assert.equal(r.role, "follower");
  assert.equal(r.leader, "c");
  assert.equal(r.term, 2);
});

Deno.test("a split vote is retried in a new term after another timeout", () => {
  // 4 voters: a and b campaign at once and each gets one other vote at most.
  const c = new TestCluster(["a", "b", "c", "d"], { preVote: false });
  c.get("a").campaign();
  c.get("b").campaign();
  c.flush();
  // c votes for a, d votes for b.
  for (const m of c.take(() => true)) {
    if (
      m.type === "vote" && ((m.from === "a" && m.to === "c") || (m.from === "b" && m.to === "d"))
    ) {
      c.deliver(m);
    }
  }
  c.stabilize();
  assert.equal(c.get("a").role, "candidate");
  assert.equal(c.get("b").role, "candidate");
  const term = c.get("a").term;
  c.tick("a", 10);
  assert.equal(c.get("a").term, term + 1, "a new election in a new term");
  c.stabilize();
  assert.equal(c.get("a").role, "leader");
});

Deno.test("pre-vote: a partitioned node rejoining does not depose a healthy leader", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const term = c.get("a").term;
  c.isolate("c");
  for (let i = 0; i < 100; i++) {
    c.tick("c");
    c.flush();
    c.queue = [];
  }
  assert.equal(c.get("c").term, term, "pre-vote never raised the isolated node's term");
  c.heal();
  c.tick("c", 20);
  c.stabilize();
  assert.equal(c.get("a").role, "leader");
  assert.equal(c.get("a").term, term);
});

Deno.test("without pre-vote a rejoining node forces a new term (what pre-vote prevents)", () => {
  const c = new TestCluster(["a", "b", "c"], { preVote: false, checkQuorum: false });
  c.elect("a");
  const term = c.get("a").term;
  c.isolate("c");
  c.tick("c", 20);
  c.flush();
  c.queue = [];
  c.heal();
  c.tick("c", 20);
  c.stabilize();
  assert.ok(c.get("a").term > term);
});

Deno.test("check-quorum: a leader that hears from no majority steps down", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.tick("a", 10);
  assert.equal(c.get("a").role, "leader", "a first round finds the peers recently active");
  c.flush();
  c.queue = [];
  c.tick("a", 10);
  assert.equal(c.get("a").role, "follower");
});

Deno.test("a follower in a live leader's lease ignores vote requests of a newer term", () => {
  const r = lone("a", 2);
  r.step({ type: "heartbeat", term: 2, from: "b", to: "a", commit: 3, readSeq: 0 });
  r.step({
    type: "vote",
    term: 3,
    from: "c",
    to: "a",
    preVote: false,
    lastLogIndex: 9,
    lastLogTerm: 2,
    transfer: false,
  });
  assert.equal(r.term, 2);
  assert.equal(r.vote, "");
  assert.equal(r.leader, "b");
});

Deno.test("a learner never campaigns", () => {
  const r = new Raft(
    makeRaftConfig({ id: "l", electionTicks: 10, randomInt: fixedRandom(0) }),
    {
      hardState: { term: 1, vote: "", commit: 0 },
      snapshot: {
        index: 0,
        term: 0,
        membership: {
          members: [{ id: "a", url: "", voter: true }, { id: "l", url: "", voter: false }],
        },
      },
      entries: [],
      appliedIndex: 0,
    },
  );
  for (let i = 0; i < 100; i++) r.tick();
  assert.equal(r.role, "follower");
  assert.equal(r.stats.campaigns, 0);
});
