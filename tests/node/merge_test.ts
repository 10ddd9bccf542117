// Enqueues that arrive together share an entry, and each is still answered, refused or counted
// on its own.

import assert from "node:assert/strict";
import type { NewJob, QueueCommand } from "../../src/queue/commands.ts";
import { maxMergedJobs } from "../../src/queue/commands.ts";
import type { ApplyResult } from "../../src/queue/results.ts";
import { mergeProposals, type Proposal } from "../../src/node/merge.ts";
import { RaftqError } from "../../src/errors.ts";
import { startInProcessNode } from "../helpers/in_process.ts";
import { type Harness, withHarness, withTwoHarnesses } from "../helpers/queue_harness.ts";

const job = (n: number): NewJob => ({ payload: String(n), delayMs: 0, priority: 0 });
const enqueue = (queue: string, n: number): QueueCommand => ({
  type: "enqueue",
  queue,
  jobs: Array.from({ length: n }, (_, k) => job(k)),
});

function proposal(cmd: QueueCommand, answers: unknown[]): Proposal {
  return { cmd, resolve: (r) => answers.push(r), reject: (e) => answers.push(e) };
}

Deno.test("merge: a queue's enqueues become one proposal with parts; others keep their place", () => {
  const answers: unknown[][] = [[], [], [], []];
  const ps = [
    proposal(enqueue("a", 2), answers[0]),
    proposal({ type: "cancel", id: "1-0" }, answers[1]),
    proposal(enqueue("b", 1), answers[2]),
    proposal(enqueue("a", 3), answers[3]),
  ];
  const merged = mergeProposals(ps);
  assert.equal(merged.length, 3);
  const a = merged[0].cmd as Extract<QueueCommand, { type: "enqueue" }>;
  assert.deepEqual([a.queue, a.jobs.length, a.parts], ["a", 5, [2, 3]]);
  assert.equal(merged[1], ps[1]);
  assert.equal(merged[2], ps[2], "alone: not wrapped");
  const parts: ApplyResult[] = [
    { type: "enqueued", jobs: [] },
    { type: "error", code: "queue_full", message: "full" },
  ];
  merged[0].resolve({ type: "parts", parts });
  assert.deepEqual([answers[0][0], answers[3][0]], parts, "each request its own answer");
  const failed = mergeProposals([
    proposal(enqueue("q", 1), answers[1]),
    proposal(enqueue("q", 1), answers[2]),
  ]);
  failed[0].reject(new RaftqError("no_leader", "gone"));
  assert.ok(answers[1].at(-1) instanceof RaftqError && answers[2].at(-1) instanceof RaftqError);
  const big = mergeProposals([1, 2, 3, 4, 5, 6].map(() => proposal(enqueue("q", 1000), [])));
  assert.deepEqual(big.map((p) => (p.cmd as { jobs: unknown[] }).jobs.length), [
    maxMergedJobs,
    1000,
  ]);
});

Deno.test("merge: each part of an entry is its own all-or-nothing request against maxDepth", () =>
  withHarness((h) => {
    h.apply(1, { type: "configure", queue: "q", config: { maxDepth: 3 } });
    const jobs = [job(1), job(2), job(3), job(4)];
    const r = h.apply(2, { type: "enqueue", queue: "q", jobs, parts: [2, 2] });
    assert.equal(r.type, "parts");
    const [first, second] = r.type === "parts" ? r.parts : [];
    assert.deepEqual(first.type === "enqueued" && first.jobs.map((j) => j.id), ["2-0", "2-1"]);
    assert.equal(
      second.type === "error" && second.code,
      "queue_full",
      "the second part alone is refused",
    );
    assert.equal(h.sm.queueView("q").ready, 2);
  }));

/** Parts of every kind: plain ones (written together), keyed, delayed, grouped, dependent. */
function mixedParts(firstJobId: string): NewJob[][] {
  const plain = (n: number, group?: string): NewJob => ({ ...job(n), ...(group ? { group } : {}) });
  return [
    [plain(1, "a"), plain(2)],
    [{ ...job(3), delayMs: 5_000 }],
    [plain(4, "b"), plain(5, "b")],
    [{ ...job(6), idempotencyKey: "k" }],
    [{ ...job(7), dependsOn: [firstJobId] }], // a job of this same entry: it must be written
    [plain(8, "a")],
    [plain(9), plain(10)], // over maxDepth 9 by one: refused whole
    [plain(11, "c")], // fits
  ];
}

/** What the tables hold, without the ids (an entry a part gives other ids than one entry). */
function tables(h: Harness) {
  const all = (sql: string) => h.dd.db.conn.db.prepare(sql).all();
  return {
    jobs: all(`SELECT queue, state, grp, priority, payload, available_at, deps_left
      FROM jobs ORDER BY rowid`),
    groups: all("SELECT queue, grp, ready, leased, turn, active FROM queue_groups ORDER BY grp"),
    counts: all("SELECT queue, state, n FROM queue_counts ORDER BY state"),
  };
}

const answerShape = (r: ApplyResult) =>
  r.type === "enqueued"
    ? r.jobs.map((j) => [j.state, j.deduplicated])
    : r.type === "error"
    ? r.code
    : r.type;

Deno.test("merge: parts in one entry leave the tables that one entry a part would", () =>
  withTwoHarnesses((merged, separate) => {
    const config = { type: "configure", queue: "q", config: { maxDepth: 9 } } as const;
    merged.apply(1, config);
    separate.apply(1, config);
    const partsOfOne = mixedParts(`${merged.index + 1}-0`);
    const r = merged.apply(2, {
      type: "enqueue",
      queue: "q",
      jobs: partsOfOne.flat(),
      parts: partsOfOne.map((p) => p.length),
    });
    assert.equal(r.type, "parts");
    const mergedAnswers = r.type === "parts" ? r.parts.map(answerShape) : [];
    const partsAlone = mixedParts(`${separate.index + 1}-0`);
    const separateAnswers = partsAlone.map((jobs) =>
      answerShape(separate.apply(2, { type: "enqueue", queue: "q", jobs }))
    );
    assert.deepEqual(mergedAnswers, separateAnswers);
    assert.equal(mergedAnswers[6], "queue_full");
    assert.deepEqual(mergedAnswers[4], [["waiting", false]], "the dependency was found");
    assert.deepEqual(tables(merged), tables(separate));
    assert.equal(merged.sm.queueView("q").ready, 7);
  }));

Deno.test("merge: a node proposes enqueues queued in the same turn as one entry", async () => {
  const node = await startInProcessNode();
  try {
    const answers = await Promise.all([1, 2, 3].map(() => node.node.propose(enqueue("m", 2))));
    const ids = answers.flatMap((r) => (r.type === "enqueued" ? r.jobs.map((j) => j.id) : []));
    assert.equal(new Set(ids).size, 6, `six jobs, six ids: ${ids}`);
    assert.equal(new Set(ids.map((id) => id.split("-")[0])).size, 1, "one entry");
    const next = await node.node.propose(enqueue("m", 1));
    const [entry] = ids[0].split("-").map(Number);
    assert.equal(next.type === "enqueued" && next.jobs[0].id, `${entry + 1}-0`, "the next entry");
  } finally {
    await node.stop();
  }
});
