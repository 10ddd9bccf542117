// Claims of one queue applied together in a merged entry answer and write exactly what they would
// one by one.

import assert from "node:assert/strict";
import type { QueueCommand, WorkerCommand } from "../../src/queue/commands.ts";
import type { ApplyResult } from "../../src/queue/results.ts";
import { ReadyRuns } from "../../src/queue/ready_runs.ts";
import { claimsTogetherJobs } from "../../src/queue/worker_commands.ts";
import { TwoWays } from "../helpers/two_ways.ts";
import { Prng } from "../sim/prng.ts";

type Held = { id: string; lease: string };

/** Plain jobs (most as runs), some with a priority, a delay or a named group. */
function enqueue(rng: Prng, queue: string): QueueCommand {
  const odd = rng.chance(0.3);
  const jobs = Array.from({ length: 1 + rng.int(40) }, (_, k) => ({
    payload: JSON.stringify({ k, n: rng.int(1000) }),
    delayMs: odd && rng.chance(0.2) ? rng.int(3000) : 0,
    priority: odd ? rng.int(3) : 0,
    maxAttempts: 3,
    ...(odd && rng.chance(0.3) ? { group: `g${rng.int(3)}` } : {}),
  }));
  return { type: "enqueue", queue, jobs };
}

/** Mostly claims, in runs of one queue, with acks and releases of jobs held. */
function workerCommands(rng: Prng, held: Held[]): WorkerCommand[] {
  const cmds: WorkerCommand[] = [];
  for (let n = 1 + rng.int(14); n > 0; n--) {
    if (held.length > 0 && rng.chance(0.3)) {
      const { id, lease } = held.splice(rng.int(held.length), 1)[0];
      cmds.push(rng.chance(0.8) ? { type: "ack", id, lease } : { type: "release", id, lease });
      continue;
    }
    const queue = rng.chance(0.8) ? "a" : "b";
    const leaseMs = rng.chance(0.5) ? 500 + rng.int(5000) : undefined;
    cmds.push({ type: "claim", queue, worker: `w${rng.int(4)}`, max: 1 + rng.int(4), leaseMs });
  }
  return cmds;
}

function configure(rng: Prng): QueueCommand {
  const queue = rng.chance(0.7) ? "a" : "b";
  const roll = rng.int(5);
  if (roll === 0) return { type: "pause", queue, paused: rng.chance(0.5) };
  const config = roll === 1
    ? { concurrency: 2 + rng.int(10) }
    : roll === 2
    ? { rateLimit: { max: 3 + rng.int(10), perMs: 1000 } }
    : roll === 3
    ? { groupConcurrency: 1 + rng.int(2) }
    : {};
  return { type: "configure", queue, config };
}

function nextCommand(rng: Prng, held: Held[]): QueueCommand {
  const roll = rng.int(20);
  if (roll < 6) return enqueue(rng, rng.chance(0.7) ? "a" : "b");
  if (roll < 7) return configure(rng);
  if (roll < 8) return { type: "tick", retentionMs: 60_000 };
  const cmds = workerCommands(rng, held);
  // (as mergeProposals orders them, half the time: claims last)
  if (rng.chance(0.5)) cmds.sort((x, y) => Number(x.type === "claim") - Number(y.type === "claim"));
  return { type: "merged", cmds };
}

/** Leases the answer handed out, for later acks. */
function leasesOf(r: ApplyResult): Held[] {
  const parts = r.type === "parts" ? r.parts : [r];
  return parts.flatMap((p) =>
    p.type === "claimed" ? p.jobs.map(({ id, lease }) => ({ id, lease })) : []
  );
}

Deno.test("claims together: the same answers and rows as the claims one by one", async () => {
  for (const seed of [3, 17, 29]) {
    // (claims insert the rows of the run jobs they lease)
    const both = await TwoWays.open({ claimsTogether: false }, /^insert into "jobs"/);
    try {
      const rng = new Prng(seed);
      const held: Held[] = [];
      let stampMs = 1_000_000;
      let claimed = 0;
      for (let k = 0; k < 400; k++) {
        stampMs += rng.int(400);
        const leased = leasesOf(both.apply(stampMs, nextCommand(rng, held), `entry ${k + 1}`));
        claimed += leased.length;
        held.push(...leased);
      }
      both.assertSameState();
      assert.ok(claimed > 500, `the claims took jobs (${claimed})`);
      both.assertFewerStatements(0.9, "claims together inserted rows");
    } finally {
      await both.close();
    }
  }
});

Deno.test("claims together: past claimsTogetherJobs asked, the claims go in turns, as alone", async () => {
  const both = await TwoWays.open({ claimsTogether: false });
  const { together, alone } = both;
  try {
    const payload = JSON.stringify({ n: 1 });
    const jobs = Array.from({ length: 1000 }, () => ({ payload, delayMs: 0, priority: 0 }));
    for (const h of [together, alone]) {
      for (let k = 0; k < 3; k++) h.apply(1000, { type: "enqueue", queue: "q", jobs });
    }
    // 25 claims of 100 (the most a claim asks): 2,500 asked, more than claimsTogetherJobs at once.
    const claim = { type: "claim", queue: "q", worker: "w", max: 100 } as const;
    const cmd: QueueCommand = { type: "merged", cmds: Array.from({ length: 25 }, () => claim) };
    assert.ok(25 * claim.max > claimsTogetherJobs);
    const best = ReadyRuns.prototype.best;
    const asked: number[] = [];
    ReadyRuns.prototype.best = function (queue, limit) {
      asked.push(limit);
      return best.call(this, queue, limit);
    };
    let r: ApplyResult;
    try {
      r = together.apply(2000, cmd);
    } finally {
      ReadyRuns.prototype.best = best;
    }
    assert.deepEqual(asked, [1000, 1000, 500], "at most claimsTogetherJobs jobs read at once");
    assert.deepEqual(alone.apply(2000, cmd), r);
    const taken = leasesOf(r).map((l) => l.id);
    assert.equal(taken.length, 2500);
    assert.equal(new Set(taken).size, 2500, "no job handed out twice");
    both.assertSameState();
  } finally {
    await both.close();
  }
});
