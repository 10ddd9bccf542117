// Ready runs: a queue keeping batches as runs answers every command and read as one without.

import assert from "node:assert/strict";
import type { NewJob, QueueCommand } from "../../src/queue/commands.ts";
import type { JobState } from "../../src/storage/schema.ts";
import { type Harness, withHarness } from "../helpers/queue_harness.ts";
import { Prng } from "../sim/prng.ts";
import { defaultMinRunJobs, payloadCacheChars } from "../../src/queue/ready_runs.ts";

const noRuns = { minRunJobs: Number.POSITIVE_INFINITY };
const runsOfTwo = { minRunJobs: 2 };

/** Both machines, one keeping runs of two jobs or more, the other none. */
async function withPair(fn: (rows: Harness, runs: Harness) => void | Promise<void>) {
  await withHarness((rows) => withHarness((runs) => fn(rows, runs), runsOfTwo), noRuns);
}

function count(h: Harness, sql: string): number {
  return Number((h.dd.db.conn.db.prepare(sql).get() as { n: number }).n);
}

const plain = (n: number, priority = 0): NewJob => ({
  payload: JSON.stringify({ n, pad: "é".repeat(n % 5) }),
  delayMs: 0,
  priority,
  maxAttempts: 3,
});

/** An enqueue of `n` plain jobs into queue q. */
const batchOf = (n: number): QueueCommand => ({
  type: "enqueue",
  queue: "q",
  jobs: Array.from({ length: n }, (_, k) => plain(k)),
});

Deno.test("ready runs: a batch is one run, its jobs read as rows would, a claim writes the row", () =>
  withPair((rows, runs) => {
    const batch = batchOf(50);
    assert.deepEqual(runs.apply(1_000, batch), rows.apply(1_000, batch));
    assert.equal(count(runs, "SELECT count(*) AS n FROM jobs"), 0);
    assert.equal(count(runs, "SELECT count(*) AS n FROM ready_runs"), 1);
    for (const id of ["1-0", "1-17", "1-49"]) {
      assert.deepEqual(runs.sm.getJob(id), rows.sm.getJob(id));
    }
    assert.equal(runs.sm.getJob("1-50"), null);
    assert.equal(runs.sm.getJob("1-017"), null, "only the job's own id names it");
    assert.deepEqual(runs.claim(2_000, "q", 3), rows.claim(2_000, "q", 3));
    assert.equal(count(runs, "SELECT count(*) AS n FROM jobs WHERE state = 'leased'"), 3);
    assert.deepEqual(runs.sm.getJob("1-1"), rows.sm.getJob("1-1"));
    assert.deepEqual(runs.sm.queueView("q"), rows.sm.queueView("q"));
  }));

Deno.test(`ready runs: ${defaultMinRunJobs} plain jobs in a row make a run, one fewer rows`, () =>
  withHarness((h) => {
    h.apply(1_000, batchOf(defaultMinRunJobs - 1));
    assert.equal(count(h, "SELECT count(*) AS n FROM jobs"), defaultMinRunJobs - 1);
    h.apply(1_001, batchOf(defaultMinRunJobs));
    assert.equal(count(h, "SELECT count(*) AS n FROM jobs"), defaultMinRunJobs - 1);
    assert.equal(
      count(h, "SELECT sum(end_seq - next_seq) AS n FROM ready_runs"),
      defaultMinRunJobs,
    );
  }));

Deno.test("ready runs: a cancel splits the run; its payloads go with the last of its jobs", () =>
  withPair((rows, runs) => {
    const batch = batchOf(10);
    for (const h of [rows, runs]) {
      h.apply(1_000, batch);
      h.apply(1_001, { type: "cancel", id: "1-4" });
    }
    assert.equal(count(runs, "SELECT count(*) AS n FROM ready_runs"), 2);
    assert.equal(count(runs, "SELECT count(*) AS n FROM run_payloads"), 1);
    assert.deepEqual(runs.sm.getJob("1-4"), rows.sm.getJob("1-4"));
    assert.equal(runs.sm.getJob("1-4")?.state, "cancelled");
    const claimed = runs.claim(2_000, "q", 20);
    assert.deepEqual(claimed, rows.claim(2_000, "q", 20));
    assert.deepEqual(claimed.map((j) => j.id), [0, 1, 2, 3, 5, 6, 7, 8, 9].map((k) => `1-${k}`));
    assert.equal(count(runs, "SELECT count(*) AS n FROM ready_runs"), 0);
    assert.equal(count(runs, "SELECT count(*) AS n FROM run_payloads"), 0);
  }));

Deno.test("ready runs: claims take runs and rows together in priority, then age, then seq", () =>
  withPair((rows, runs) => {
    const commands: QueueCommand[] = [
      { type: "enqueue", queue: "q", jobs: [plain(0, 1), plain(1, 1), plain(2, 1)] },
      { type: "enqueue", queue: "q", jobs: [{ ...plain(3, 1), group: "g" }, plain(4, 5)] },
      { type: "enqueue", queue: "q", jobs: [plain(5, 5), plain(6, 5), plain(7, 0), plain(8, 0)] },
    ];
    commands.forEach((c, i) =>
      assert.deepEqual(runs.apply(1_000 + i, c), rows.apply(1_000 + i, c))
    );
    const order = runs.claim(2_000, "q", 20).map((j) => j.id);
    assert.deepEqual(order, rows.claim(2_000, "q", 20).map((j) => j.id));
    assert.deepEqual(order.slice(0, 3), ["2-1", "3-0", "3-1"]);
  }));

Deno.test("ready runs: payloads kept read stay within their budget; forgotten ones are read again", () =>
  withHarness((h) => {
    const text = (q: number, n: number) => JSON.stringify(`${q}:${n}:`.padEnd(1_000, "x"));
    const queues = Math.ceil(payloadCacheChars / (20 * 1_000)) + 20;
    for (let q = 0; q < queues; q++) {
      const jobs = Array.from({ length: 20 }, (_, n) => ({ ...plain(n), payload: text(q, n) }));
      h.apply(1_000, { type: "enqueue", queue: `q${q}`, jobs });
    }
    for (const round of [0, 1]) {
      for (let q = 0; q < queues; q++) {
        const [job] = h.claim(2_000 + round, `q${q}`);
        assert.equal(job.payload.text, text(q, round), `q${q}, round ${round}`);
        assert.ok(h.sm.runs.cachedChars <= payloadCacheChars, `${h.sm.runs.cachedChars} kept`);
      }
    }
    assert.ok(h.sm.runs.cachedChars > payloadCacheChars / 2, "the budget is used");
  }, runsOfTwo));

Deno.test("ready runs: payloads read again are counted once", () =>
  withHarness((h) => {
    const jobs = Array.from({ length: 20 }, (_, n) => ({ ...plain(n), payload: `"${n}"` }));
    h.apply(1_000, { type: "enqueue", queue: "q", jobs });
    h.claim(2_000, "q");
    const once = h.sm.runs.cachedChars;
    assert.ok(once > 0, "the run's payloads are kept once read");
    assert.equal(h.claim(2_001, "q")[0].payload.text, '"1"');
    assert.equal(h.sm.runs.cachedChars, once);
  }, runsOfTwo));

Deno.test("ready runs: a random mix of commands answers and reads the same with runs as without", async () => {
  for (const seed of [1, 2, 3, 4]) {
    await withPair((rows, runs) => new Mix(new Prng(seed), rows, runs).run(250));
  }
});

/** Random commands applied to both machines, every answer and read compared. */
class Mix {
  readonly ids: string[] = [];
  readonly leases: { id: string; lease: string }[] = [];
  now = 1_000;

  constructor(readonly rng: Prng, readonly rows: Harness, readonly runs: Harness) {}

  run(steps: number): void {
    for (let step = 0; step < steps; step++) {
      this.now += this.rng.int(20);
      const cmd = this.command();
      const a = this.rows.apply(this.now, cmd);
      const b = this.runs.apply(this.now, cmd);
      assert.deepEqual(b, a, `step ${step}: ${JSON.stringify(cmd)}`);
      this.note(a);
      if (step % 25 === 24) this.compareReads(step);
      if (step % 100 === 99) this.runs.restart(runsOfTwo);
    }
    this.compareReads(steps);
  }

  command(): QueueCommand {
    const r = this.rng;
    const queue = r.pick(["q", "q", "r"]);
    const roll = r.int(100);
    if (roll < 30) return { type: "enqueue", queue, jobs: this.jobs(1 + r.int(30)) };
    if (roll < 38) {
      const jobs = this.jobs(2 + r.int(20));
      const cut = 1 + r.int(jobs.length - 1);
      return { type: "enqueue", queue, jobs, parts: [cut, jobs.length - cut] };
    }
    if (roll < 58) return { type: "claim", queue, worker: "w", max: 1 + r.int(25), leaseMs: 200 };
    const held = this.leases.length > 0 ? this.leases[r.int(this.leases.length)] : undefined;
    if (roll < 72 && held) return { type: "ack", ...held, result: `${roll}` };
    if (roll < 77 && held) return { type: "nack", ...held, error: "no", retryDelayMs: 0 };
    if (roll < 80 && held) return { type: "release", ...held };
    if (roll < 92 && this.ids.length > 0) return { type: "cancel", id: r.pick(this.ids) };
    if (roll < 94) return { type: "pause", queue, paused: r.chance(0.3) };
    return { type: "tick", retentionMs: 300 };
  }

  /** Mostly plain jobs of one priority; some that a run cannot hold break the stretch. */
  jobs(n: number): NewJob[] {
    const r = this.rng;
    const priority = r.pick([0, 0, 2]);
    return Array.from({ length: n }, (_, k) => {
      const job = plain(k + this.ids.length, r.chance(0.1) ? 7 : priority);
      const roll = r.int(100);
      if (roll < 4) return { ...job, delayMs: 30 };
      if (roll < 8) return { ...job, group: r.pick(["g", "h"]) };
      if (roll < 10) return { ...job, payload: JSON.stringify("x".repeat(1_500)) };
      if (roll < 12) return { ...job, idempotencyKey: `k${r.int(5)}` };
      if (roll < 14) return { ...job, ttlMs: 100 };
      return job;
    });
  }

  note(result: ReturnType<Harness["apply"]>): void {
    if (result.type === "enqueued") this.ids.push(...result.jobs.map((j) => j.id));
    if (result.type === "claimed") {
      this.leases.push(...result.jobs.map((j) => ({ id: j.id, lease: j.lease })));
    }
    if (this.leases.length > 40) this.leases.splice(0, this.leases.length - 40);
  }

  compareReads(step: number): void {
    for (const queue of ["q", "r"]) {
      assert.deepEqual(this.runs.sm.queueView(queue), this.rows.sm.queueView(queue), `${step}`);
      for (const state of [undefined, "ready", "leased", "cancelled"] as const) {
        assert.deepEqual(this.pages(this.runs, queue, state), this.pages(this.rows, queue, state));
      }
      const events = (h: Harness) => h.sm.readEvents(queue, { index: 0, k: 0 }, 100_000);
      assert.deepEqual(events(this.runs), events(this.rows), `events of ${queue} at ${step}`);
    }
    for (const id of this.ids) assert.deepEqual(this.runs.sm.getJob(id), this.rows.sm.getJob(id));
  }

  /** Every page of a listing, 7 jobs a page. */
  pages(h: Harness, queue: string, state: JobState | undefined): unknown[] {
    const out: unknown[] = [];
    let cursor: number | undefined;
    for (;;) {
      const page = h.sm.listJobs(queue, state, 7, cursor);
      out.push(page.jobs);
      if (page.next === null) return out;
      cursor = Number(page.next);
    }
  }
}
