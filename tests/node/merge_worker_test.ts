// Worker commands that arrive together share an entry, and each is still answered, refused and
// leased on its own.

import assert from "node:assert/strict";
import {
  decodeCommand,
  encodeCommand,
  maxMergedCommands,
  type QueueCommand,
  type WorkerCommand,
} from "../../src/queue/commands.ts";
import type { ApplyResult, ClaimedJob } from "../../src/queue/results.ts";
import {
  maxMergedBytes,
  mergeProposals,
  type Proposal,
  requestBytes,
} from "../../src/node/merge.ts";
import { startInProcessNode } from "../helpers/in_process.ts";
import { type Harness, withHarness, withTwoHarnesses } from "../helpers/queue_harness.ts";

const claim = (queue = "q", max = 1): WorkerCommand => ({ type: "claim", queue, worker: "w", max });

function proposal(cmd: QueueCommand, answers: unknown[]): Proposal {
  return { cmd, resolve: (r) => answers.push(r), reject: (e) => answers.push(e) };
}

Deno.test("merge: worker commands become one merged proposal in order; others keep theirs", () => {
  const answers: unknown[][] = [[], [], [], []];
  const ack: WorkerCommand = { type: "ack", id: "1-0", lease: "2" };
  const ps = [
    proposal(claim(), answers[0]),
    proposal({ type: "cancel", id: "1-0" }, answers[1]),
    proposal(
      { type: "enqueue", queue: "q", jobs: [{ payload: "1", delayMs: 0, priority: 0 }] },
      [],
    ),
    proposal(ack, answers[3]),
  ];
  const merged = mergeProposals(ps);
  assert.equal(merged.length, 3);
  assert.deepEqual(merged[0].cmd, { type: "merged", cmds: [ack, claim()] }, "claims go last");
  assert.equal(merged[1], ps[1]);
  assert.equal(merged[2], ps[2], "a lone enqueue: not wrapped");
  const parts: ApplyResult[] = [
    { type: "error", code: "lease_mismatch", message: "no" },
    { type: "claimed", jobs: [] },
  ];
  merged[0].resolve({ type: "parts", parts });
  assert.deepEqual([answers[3][0], answers[0][0]], parts, "each request its own answer");
  const failed: ApplyResult = { type: "error", code: "apply_failed", message: "x" };
  mergeProposals([proposal(claim(), answers[1]), proposal(claim(), answers[2])])[0].resolve(failed);
  assert.deepEqual([answers[1].at(-1), answers[2].at(-1)], [failed, failed]);
  const many = mergeProposals(
    Array.from({ length: maxMergedCommands + 3 }, () => proposal(claim(), [])),
  );
  assert.deepEqual(many.map((p) => p.cmd.type === "merged" ? p.cmd.cmds.length : 1), [
    maxMergedCommands,
    3,
  ]);
});

Deno.test("merge: a merged entry's claims go after its other commands, each queue's together", () => {
  const answers: unknown[] = [];
  const ack = (id: string): WorkerCommand => ({ type: "ack", id, lease: "2" });
  const cmds = [claim("a"), ack("1-0"), claim("b", 2), claim("a", 3), ack("1-1"), claim("b")];
  const [merged] = mergeProposals(cmds.map((c, k) => proposal(c, answers[k] = [])));
  assert.deepEqual(merged.cmd, {
    type: "merged",
    cmds: [ack("1-0"), ack("1-1"), claim("a"), claim("a", 3), claim("b", 2), claim("b")],
  });
  const parts = [0, 1, 2, 3, 4, 5].map((k): ApplyResult => ({ type: "acked", id: `${k}` }));
  merged.resolve({ type: "parts", parts });
  assert.deepEqual(answers, [[parts[2]], [parts[0]], [parts[4]], [parts[3]], [parts[1]], [
    parts[5],
  ]]);
});

Deno.test("merge: a merged entry of more than maxMergedCommands is not a command", () => {
  const entry = (n: number) =>
    encodeCommand({ type: "merged", cmds: Array.from({ length: n }, () => claim()) }, 1);
  assert.equal(decodeCommand(entry(maxMergedCommands))?.cmd.type, "merged");
  assert.equal(decodeCommand(entry(maxMergedCommands + 1)), null);
  assert.equal(decodeCommand(entry(0)), null);
  const nested = { type: "merged", cmds: [{ type: "merged", cmds: [claim()] }] };
  assert.equal(
    decodeCommand(encodeCommand(nested as unknown as QueueCommand, 1)),
    null,
    "no nesting",
  );
});

Deno.test("merge: a merged entry stays within maxMergedBytes of users' data", () => {
  const big = "x".repeat(Math.floor(maxMergedBytes * 0.4));
  const ack = (result: string): QueueCommand => ({ type: "ack", id: "1-0", lease: "2", result });
  const job = (payload: string) => ({ payload, delayMs: 0, priority: 0 });
  const enqueue = (payload: string): QueueCommand => ({
    type: "enqueue",
    queue: "q",
    jobs: [job(payload)],
  });
  const huge = "y".repeat(maxMergedBytes * 2);
  const sizes = (cmds: QueueCommand[]) =>
    mergeProposals(cmds.map((c) => proposal(c, []))).map((p) =>
      p.cmd.type === "merged"
        ? p.cmd.cmds.length
        : p.cmd.type === "enqueue"
        ? p.cmd.parts?.length ?? 1
        : 1
    );
  assert.deepEqual(sizes([ack(big), ack(big), ack(big), ack("1")]), [2, 2]);
  assert.deepEqual(sizes([enqueue(big), enqueue(big), enqueue(big)]), [2, 1]);
  assert.deepEqual(sizes([enqueue("1"), enqueue(huge), enqueue("2")]), [1, 1, 1], "alone");
  assert.ok(requestBytes(enqueue(big)) > big.length);
});

Deno.test("merge: each claim of a merged entry leases under its own part's lease", () =>
  withHarness((h) => {
    const [a, b, c] = h.enqueue(1, "q", {}, {}, {});
    const [held] = h.claim(2, "q");
    assert.equal(held.id, a.id);
    const at = h.index + 1;
    const r = h.apply(3, {
      type: "merged",
      cmds: [
        claim(),
        { type: "ack", id: a.id, lease: "999" }, // a wrong lease: this part alone is refused
        { type: "ack", id: a.id, lease: held.lease, next: { queue: "q", worker: "w", max: 1 } },
        claim(),
      ],
    });
    assert.equal(r.type, "parts");
    const [first, wrong, acked, last] = r.type === "parts" ? r.parts : [];
    const jobs = (x: ApplyResult): ClaimedJob[] =>
      x.type === "claimed" ? x.jobs : x.type === "acked" ? x.next ?? [] : [];
    assert.deepEqual(jobs(first).map((j) => [j.id, j.lease]), [[b.id, `${at}.000`]]);
    assert.equal(wrong.type === "error" && wrong.code, "lease_mismatch");
    assert.equal(acked.type, "acked");
    assert.deepEqual(jobs(acked).map((j) => [j.id, j.lease]), [[c.id, `${at}.002`]]);
    assert.deepEqual(jobs(last), [], "nothing left to claim");
    assert.ok(Number(`${at}.002`) > Number(held.lease), "a job's leases still increase");
    const stale = h.apply(4, { type: "ack", id: b.id, lease: `${at}.002` });
    assert.equal(stale.type === "error" && stale.code, "lease_mismatch", "another part's lease");
    assert.equal(h.apply(5, { type: "ack", id: b.id, lease: `${at}.000` }).type, "acked");
    assert.deepEqual(h.sm.queueView("q"), { ...h.sm.queueView("q"), done: 2, leased: 1 });
  }));

/** What the tables hold but for the leases (a merged entry's are its parts'). */
function tables(h: Harness) {
  const all = (sql: string) => h.dd.db.conn.db.prepare(sql).all();
  return {
    jobs: all(
      `SELECT id, queue, state, attempts, result, lease_expires_at FROM jobs ORDER BY rowid`,
    ),
    groups: all("SELECT queue, grp, ready, leased, turn, active FROM queue_groups ORDER BY grp"),
    counts: all("SELECT queue, state, n FROM queue_counts ORDER BY state"),
  };
}

Deno.test("merge: a merged entry leaves the tables its commands one by one would", () =>
  withTwoHarnesses((merged, separate) => {
    for (const h of [merged, separate]) {
      h.apply(1, { type: "configure", queue: "q", config: { groupConcurrency: 1 } });
      h.enqueue(1, "q", { group: "a" }, { group: "a" }, { group: "b" }, {}, {});
      h.claim(2, "q", 2);
    }
    const cmds = (lease: (part: number) => string): WorkerCommand[] => [
      { type: "ack", id: "2-0", lease: "3", result: "7" },
      claim("q", 2),
      { type: "nack", id: "2-2", lease: "3", retryDelayMs: 0 },
      { type: "extend", id: "2-0", lease: "3", leaseMs: 5 }, // done already: refused
      { type: "release", id: "2-3", lease: lease(1) }, // the part's claim, not known yet
      claim("q", 3),
    ];
    const at = merged.index + 1;
    const r = merged.apply(4, { type: "merged", cmds: cmds((k) => `${at}.00${k}`) });
    const one = cmds((k) => String(separate.index + 1 + k)).map((c) => separate.apply(4, c));
    assert.equal(r.type, "parts");
    const shape = (x: ApplyResult) =>
      x.type === "claimed" ? x.jobs.map((j) => j.id) : x.type === "error" ? x.code : x.type;
    const answers = r.type === "parts" ? r.parts.map(shape) : [];
    assert.deepEqual(answers, one.map(shape));
    assert.deepEqual(answers, [
      "acked",
      ["2-3", "2-1"],
      "nacked",
      "lease_mismatch",
      "released",
      ["2-4", "2-2", "2-3"],
    ]);
    assert.deepEqual(tables(merged), tables(separate));
  }));

Deno.test("merge: a node proposes claims queued in the same turn as one entry", async () => {
  const node = await startInProcessNode();
  try {
    const jobs = Array.from(
      { length: 4 },
      (_, k) => ({ payload: `${k}`, delayMs: 0, priority: 0 }),
    );
    await node.node.propose({ type: "enqueue", queue: "m", jobs });
    const answers = await Promise.all([1, 2, 3].map(() => node.node.propose(claim("m"))));
    const leases = answers.flatMap((r) => (r.type === "claimed" ? r.jobs.map((j) => j.lease) : []));
    assert.equal(leases.length, 3);
    const [entry] = leases[0].split(".");
    assert.deepEqual(leases, [0, 1, 2].map((k) => `${entry}.00${k}`), "one entry, three parts");
    const ids = answers.flatMap((r) => (r.type === "claimed" ? r.jobs.map((j) => j.id) : []));
    assert.equal(new Set(ids).size, 3, "three jobs, each leased once");
  } finally {
    await node.stop();
  }
});
