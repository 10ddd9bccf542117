// Acks that follow each other in a merged entry, applied together, answer and write exactly what
// they would one by one.

import assert from "node:assert/strict";
import {
  maxMergedCommands,
  type QueueCommand,
  type WorkerCommand,
} from "../../src/queue/commands.ts";
import { JobBatches } from "../../src/queue/job_batches.ts";
import { seqOfId } from "../../src/queue/job_ids.ts";
import type { ApplyResult } from "../../src/queue/results.ts";
import { Harness } from "../helpers/queue_harness.ts";
import { TwoWays } from "../helpers/two_ways.ts";
import { Prng } from "../sim/prng.ts";

type Held = { id: string; lease: string };

/** Jobs (most as runs), some waiting for jobs enqueued before (ids the log handed out). */
function enqueue(rng: Prng, ids: string[]): QueueCommand {
  const jobs = Array.from({ length: 1 + rng.int(30) }, (_, k) => {
    const waits = ids.length > 0 && rng.chance(0.1);
    return {
      payload: JSON.stringify({ k }),
      delayMs: 0,
      priority: rng.int(2),
      maxAttempts: 2,
      ...(waits ? { dependsOn: [ids[rng.int(ids.length)]] } : {}),
      ...(waits && rng.chance(0.5) ? { onFailure: "ignore" as const } : {}),
    };
  });
  return { type: "enqueue", queue: rng.chance(0.7) ? "a" : "b", jobs };
}

/**
 * One worker command: most an ack of a job held under its lease (some with a result or a next
 * claim); some an ack retried, with a wrong lease, of a job never claimed or of no job; a nack or
 * a claim.
 */
function workerCommand(rng: Prng, held: Held[], acked: Held[], ids: string[]): WorkerCommand {
  const roll = rng.int(20);
  const any = <T>(list: T[]) => list[rng.int(list.length)];
  if (roll < 12 && held.length > 0) {
    const job = held.splice(rng.int(held.length), 1)[0];
    acked.push(job);
    const result = rng.chance(0.3) ? { result: JSON.stringify({ r: rng.int(9) }) } : {};
    const next = rng.chance(0.05) ? { next: { queue: "a", worker: "w", max: 1 } } : {};
    return { type: "ack", ...job, ...result, ...next };
  }
  if (roll < 13 && acked.length > 0) return { type: "ack", ...any(acked) };
  if (roll < 14 && held.length > 0) return { type: "ack", id: any(held).id, lease: "1.000" };
  if (roll < 15 && ids.length > 0) return { type: "ack", id: any(ids), lease: "1.000" };
  if (roll < 16) return { type: "ack", id: `${rng.int(99)}-${rng.int(9)}`, lease: "2.000" };
  if (roll < 17 && held.length > 0) {
    return { type: "nack", ...held.splice(rng.int(held.length), 1)[0], final: rng.chance(0.5) };
  }
  return { type: "claim", queue: rng.chance(0.7) ? "a" : "b", worker: "w", max: 1 + rng.int(3) };
}

/** A merged entry of worker commands, now and then after a cancel (not mergeable: alone). */
function workerEntries(rng: Prng, held: Held[], acked: Held[], ids: string[]): QueueCommand[] {
  const cmds = Array.from({ length: 1 + rng.int(20) }, () => workerCommand(rng, held, acked, ids));
  // (as mergeProposals orders them, half the time: claims last)
  if (rng.chance(0.5)) cmds.sort((x, y) => Number(x.type === "claim") - Number(y.type === "claim"));
  const merged: QueueCommand = { type: "merged", cmds };
  if (held.length === 0 || !rng.chance(0.1)) return [merged];
  return [{ type: "cancel", id: held[rng.int(held.length)].id }, merged];
}

function leasesOf(r: ApplyResult): Held[] {
  const parts = r.type === "parts" ? r.parts : [r];
  return parts.flatMap((p) => {
    const jobs = p.type === "claimed" ? p.jobs : p.type === "acked" ? p.next ?? [] : [];
    return jobs.map(({ id, lease }) => ({ id, lease }));
  });
}

function idsOf(r: ApplyResult): string[] {
  return r.type === "enqueued" ? r.jobs.map((j) => j.id) : [];
}

Deno.test("acks together: the same answers and rows as the acks one by one", async () => {
  for (const seed of [5, 23, 41]) {
    // (one by one: a statement for each ack that completes its job)
    const ends = /^update "?jobs"? set "?state"? = (\?|'done'), "?result"?/;
    const both = await TwoWays.open({ acksTogether: false }, ends);
    try {
      const rng = new Prng(seed);
      const [held, acked, ids]: [Held[], Held[], string[]] = [[], [], []];
      let stampMs = 1_000_000;
      let completed = 0;
      for (let k = 0; k < 300; k++) {
        stampMs += rng.int(300);
        const cmds = rng.chance(0.3) ? [enqueue(rng, ids)] : workerEntries(rng, held, acked, ids);
        for (const cmd of cmds) {
          const r = both.apply(stampMs, cmd, `entry ${k + 1} of seed ${seed}`);
          held.push(...leasesOf(r));
          ids.push(...idsOf(r));
          if (r.type === "parts") completed += r.parts.filter((p) => p.type === "acked").length;
        }
      }
      both.assertSameState();
      assert.ok(completed > 300, `the acks completed jobs (${completed})`);
      both.assertFewerStatements(0.7, "acks together ended rows");
    } finally {
      await both.close();
    }
  }
});

Deno.test("acks together: an ack retried in the same entry is answered as the first, once", async () => {
  const h = await Harness.open();
  try {
    h.apply(1000, {
      type: "enqueue",
      queue: "q",
      jobs: [{ payload: "1", delayMs: 0, priority: 0 }],
    });
    const claimed = h.apply(1001, { type: "claim", queue: "q", worker: "w", max: 1 });
    assert.equal(claimed.type, "claimed");
    const { id, lease } = (claimed as Extract<ApplyResult, { type: "claimed" }>).jobs[0];
    const ack = { type: "ack", id, lease } as const;
    const r = h.apply(1002, { type: "merged", cmds: [ack, ack, { ...ack, lease: "9.000" }] });
    assert.deepEqual(r.type === "parts" && r.parts.map((p) => p.type), ["acked", "acked", "error"]);
    assert.equal(h.sm.tallies.completed, 1);
  } finally {
    await h.close();
  }
});

/** `n` jobs of queue q enqueued on both and leased in claims of 100 (the most a claim takes). */
function leaseOnBoth(both: TwoWays, n: number): Held[] {
  const job = { payload: "1", delayMs: 0, priority: 0 };
  both.apply(
    1000,
    { type: "enqueue", queue: "q", jobs: Array.from({ length: n }, () => job) },
    "fill",
  );
  const claim = { type: "claim", queue: "q", worker: "w", max: 100 } as const;
  const cmds = Array.from({ length: Math.ceil(n / 100) }, () => claim);
  const held = leasesOf(both.apply(1001, { type: "merged", cmds }, "claims"));
  assert.equal(held.length, n);
  return held;
}

Deno.test("acks together: a merged entry's most acks take one read and one update", async () => {
  const batched = /^(select \* from "jobs" where "seq" in|update jobs set state = 'done')/;
  const both = await TwoWays.open({ acksTogether: false }, batched);
  try {
    const held = leaseOnBoth(both, maxMergedCommands);
    const cmds = held.map((h) => ({ type: "ack" as const, ...h }));
    const r = both.apply(1002, { type: "merged", cmds }, "acks");
    assert.ok(r.type === "parts" && r.parts.every((p) => p.type === "acked"));
    assert.equal(both.togetherStatements, 2, "the 256 rows read in one statement, ended in one");
    both.assertSameState();
  } finally {
    await both.close();
  }
});

Deno.test("acks together: past 256 rows the statements go in chunks, every row read and ended", async () => {
  const both = await TwoWays.open({ acksTogether: false });
  try {
    const held = leaseOnBoth(both, 300);
    const batches = new JobBatches(both.together.dd.db);
    const rows = batches.rows(held.map((h) => seqOfId(h.id)));
    assert.deepEqual(rows.map((row) => row.id).sort(), held.map((h) => h.id).sort());
    batches.complete(rows.map((row) => ({ seq: row.seq, result: `"${row.id}"` })), 2000);
    const after = batches.rows(rows.map((row) => row.seq));
    assert.ok(after.every((row) => row.state === "done" && row.result === `"${row.id}"`));
  } finally {
    await both.close();
  }
});
