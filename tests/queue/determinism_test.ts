// The same log applied to two fresh databases yields identical tables, row by row; snapshots too.

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/mod.ts";
import {
  encodeCommand,
  type FireCommand,
  isWorkerCommand,
  type QueueCommand,
} from "../../src/queue/commands.ts";
import { leaseOf } from "../../src/queue/job_ids.ts";
import { type MachineOptions, QueueStateMachine } from "../../src/queue/state_machine.ts";
import { type DataDir, openDataDir } from "../../src/storage/data_dir.ts";
import { copyStateThroughImage } from "../helpers/image.ts";
import { dumpTables, misflaggedGroups as misflagged } from "../helpers/queue_harness.ts";
import { stateTables } from "../../src/storage/state_image.ts";
import { Prng } from "../sim/prng.ts";

/** A random but valid log of queue commands, leases taken from earlier claims. */
function randomLog(seed: number, length: number): Entry[] {
  const rng = new Prng(seed);
  const entries: Entry[] = [];
  const leases: { id: string; lease: string }[] = [];
  const due = new Map<string, number | null>();
  let stamp = 1_000_000;
  for (let index = 1; index <= length; index++) {
    stamp += rng.int(3) === 0 ? -rng.int(50) : rng.int(2000); // clocks of different leaders
    let cmd: QueueCommand;
    const queue = rng.pick(["a", "b", "c"]);
    const roll = rng.int(10);
    if (roll < 4) {
      const jobs = Array.from({ length: 1 + rng.int(3) }, () => ({
        // (one in ten long enough to be kept apart from its row)
        payload: JSON.stringify({
          n: rng.int(1000),
          pad: "p".repeat(rng.chance(0.1) ? 1500 : 0),
        }),
        delayMs: rng.chance(0.3) ? rng.int(5000) : 0,
        priority: rng.int(10),
        maxAttempts: 1 + rng.int(3),
        ...(rng.chance(0.3) ? { idempotencyKey: `k${rng.int(20)}` } : {}),
        ...(rng.chance(0.2) ? { idempotencyWindowMs: 1000 + rng.int(20_000) } : {}),
        ...(rng.chance(0.2) ? { uniqueKey: `u${rng.int(5)}` } : {}),
        ...(rng.chance(0.2) ? { ttlMs: 1 + rng.int(3000) } : {}),
        ...(rng.chance(0.5) ? { group: `g${rng.int(4)}` } : {}),
        // Waiting for earlier jobs (some already ended, some never existed).
        ...(rng.chance(0.15)
          ? {
            dependsOn: [`${1 + rng.int(index)}-0`, `${1 + rng.int(index)}-${rng.int(2)}`],
            ...(rng.chance(0.5) ? { onFailure: "ignore" as const } : {}),
          }
          : {}),
      }));
      // Requests merged into one entry: each part enqueued as if on its own.
      const parts = jobs.length > 1 && rng.chance(0.5) ? [1, jobs.length - 1] : undefined;
      cmd = { type: "enqueue", queue, jobs, ...(parts ? { parts } : {}) };
    } else if (roll < 5 && rng.chance(0.3)) {
      const after = (k: number) => (k === 0 ? [] : [rng.int(k)]);
      cmd = {
        type: "flow",
        jobs: Array.from({ length: 1 + rng.int(4) }, (_, k) => ({
          queue: rng.pick(["a", "b"]),
          job: {
            payload: `${k}`,
            delayMs: 0,
            priority: 0,
            ...(rng.chance(0.3) ? { onFailure: "ignore" as const } : {}),
          },
          after: after(k),
        })),
      };
    } else if (roll < 6) {
      cmd = { type: "claim", queue, worker: "w", max: 1 + rng.int(3), leaseMs: rng.int(4000) };
      // Leases are the claim's index; remember a plausible one for later acks.
      leases.push({ id: `${Math.max(1, index - 1 - rng.int(5))}-0`, lease: String(index) });
    } else if (roll < 8 && leases.length > 0) {
      const l = rng.pick(leases);
      const { id, lease } = l;
      const pick = rng.int(5);
      cmd = pick === 0
        ? {
          type: "ack",
          id,
          lease,
          result: JSON.stringify({ r: rng.int(9) }),
          ...(rng.chance(0.5) ? { next: { queue, worker: "w", max: 1 + rng.int(2) } } : {}),
        }
        : pick === 1
        ? { type: "nack", id, lease, error: "e", final: rng.chance(0.3) }
        : pick === 2
        ? { type: "release", id, lease, delayMs: rng.int(2) * 500 }
        : pick === 3
        ? { type: "progress", id, lease, progress: String(rng.int(100)) }
        : { type: "extend", id, lease, leaseMs: 1000 + rng.int(3000) };
    } else if (roll < 9 && rng.chance(0.25)) {
      cmd = scheduleCommand(rng, queue, stamp, due);
    } else if (roll < 9) {
      cmd = rng.chance(0.7)
        ? rng.chance(0.8)
          ? { type: "cancel", id: `${1 + rng.int(index)}-0` }
          : { type: "retryDead", queue, id: `${1 + rng.int(index)}-0` }
        : rng.chance(0.3)
        ? rng.chance(0.5)
          ? { type: "retryDeadMany", queue, limit: 1 + rng.int(3) }
          : { type: "purge", queue, state: rng.pick(["done", "dead", "cancelled"]), limit: 2 }
        : rng.chance(0.5)
        ? { type: "pause", queue, paused: rng.chance(0.5) }
        : {
          type: "configure",
          queue,
          config: rng.chance(0.5) ? {} : {
            maxAttempts: 1 + rng.int(3),
            leaseMs: 1000 + rng.int(3000),
            maxDepth: 1 + rng.int(20),
            retentionMs: 1_000 + rng.int(20_000),
            backoff: { type: rng.chance(0.5) ? "fixed" : "exponential", baseMs: rng.int(2000) },
            ...(rng.chance(0.5) ? { groupConcurrency: 1 + rng.int(2) } : {}),
            ...(rng.chance(0.3) ? { concurrency: 1 + rng.int(4) } : {}),
            ...(rng.chance(0.3)
              ? { rateLimit: { max: 1 + rng.int(3), perMs: 500 + rng.int(2000) } }
              : {}),
          },
        };
    } else {
      cmd = { type: "tick", retentionMs: 20_000 };
    }
    if (isWorkerCommand(cmd) && rng.chance(0.3)) {
      // Worker commands merged into one entry: a second claim after the first, its own lease.
      const claim = { type: "claim", queue, worker: "v", max: 1 + rng.int(2) } as const;
      const cmds = rng.chance(0.5) ? [cmd, claim] : [claim];
      cmd = { type: "merged", cmds };
      const id = `${Math.max(1, index - 1 - rng.int(5))}-0`;
      leases.push({ id, lease: leaseOf(index, cmds.length - 1) });
    }
    const kind = rng.chance(0.05) ? "noop" : "normal";
    entries.push({ index, term: 1, kind, data: kind === "noop" ? "" : encodeCommand(cmd, stamp) });
  }
  return entries;
}

/**
 * A schedule set or deleted, or fired by a leader: most firings name the slot the schedule waits
 * for (`due`, as the leader reads it), some a stale one that must change nothing; some merged.
 */
function scheduleCommand(
  rng: Prng,
  queue: string,
  stamp: number,
  due: Map<string, number | null>,
): QueueCommand {
  const id = `s${rng.int(3)}`;
  const fire = (): FireCommand => {
    const fired = rng.chance(0.8) ? id : `s${rng.int(3)}`;
    const dueMs = rng.chance(0.8) ? due.get(fired) ?? stamp : stamp - 1000;
    const nextRunAt = rng.chance(0.9) ? dueMs + 1000 * (1 + rng.int(2)) : null;
    if (due.get(fired) === dueMs) due.set(fired, nextRunAt);
    return { type: "fire", id: fired, dueMs, slotMs: rng.chance(0.8) ? dueMs : null, nextRunAt };
  };
  const roll = rng.int(4);
  if (roll === 0) {
    const spec = {
      queue,
      everyMs: 1000,
      payload: `{"s":${rng.int(9)}}`,
      overlap: rng.pick(["allow", "skip"] as const),
      catchUp: rng.pick(["none", "last"] as const),
    };
    const nextRunAt = rng.chance(0.9) ? stamp + 1000 : null;
    due.set(id, nextRunAt);
    return { type: "setSchedule", id, spec, nextRunAt };
  }
  if (roll === 1) {
    due.delete(id);
    return { type: "deleteSchedule", id };
  }
  return roll === 2 ? fire() : { type: "merged", cmds: [fire(), fire()] };
}

async function freshMachine(
  options: MachineOptions = {},
): Promise<{ dd: DataDir; sm: QueueStateMachine }> {
  const dd = await openDataDir(await Deno.makeTempDir({ prefix: "raftq-det-" }));
  return { dd, sm: new QueueStateMachine(dd.db, options) };
}

/** What queue_groups must hold: each group's ready and leased jobs, as a GROUP BY counts them. */
function groupsCounted(dd: DataDir): unknown {
  const c = dd.db.conn.db;
  return {
    kept: c.prepare("SELECT queue, grp, ready, leased FROM queue_groups ORDER BY queue, grp").all(),
    counted: c.prepare(
      `SELECT queue, grp, sum(state = 'ready') AS ready, sum(state = 'leased') AS leased
       FROM jobs WHERE state IN ('ready', 'leased') GROUP BY queue, grp ORDER BY queue, grp`,
    ).all(),
  };
}

/** The counts a GROUP BY over the jobs gives: what queue_counts must always hold. */
function counted(dd: DataDir): unknown {
  return dd.db.conn.db.prepare(
    "SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue, state",
  ).all();
}

async function drop(dd: DataDir): Promise<void> {
  dd.close();
  await Deno.remove(dd.dir, { recursive: true });
}

Deno.test("determinism: one log, two databases, identical rows (applied in different batch sizes)", async () => {
  for (const seed of [1, 2, 3]) {
    const log = randomLog(seed, 600);
    const a = await freshMachine();
    const b = await freshMachine();
    try {
      a.sm.applyEntries(log);
      for (let i = 0; i < log.length; i += 7) b.sm.applyEntries(log.slice(i, i + 7));
      const rows = dumpTables(a.dd);
      assert.ok(rows.jobs.length > 50, "the log did real work");
      assert.ok(rows.job_payloads.length > 0, "some payloads were kept apart");
      assert.deepEqual(dumpTables(b.dd), rows);
      assert.deepEqual(rows.queue_counts, counted(a.dd), "the kept counts are the jobs' counts");
      const groups = groupsCounted(a.dd) as { kept: unknown; counted: unknown };
      assert.deepEqual(groups.kept, groups.counted, "each group's kept counts are its jobs'");
      assert.deepEqual(misflagged(a.dd), [], "each group is active exactly when it may be claimed");
      const reopened = new QueueStateMachine(a.dd.db);
      assert.deepEqual(reopened.queueStats(), a.sm.queueStats(), "read back as they were");
    } finally {
      await drop(a.dd);
      await drop(b.dd);
    }
  }
});

Deno.test("determinism: a replica that restarts mid-log writes the same rows", async () => {
  // What a state machine keeps in memory (running totals, caches) is read back from its tables
  // by a new one on the same database: a restarted replica must go on exactly as the others.
  // Its due floor starts over too: a replica skips the due work while its floor says nothing
  // can be due, one that restarts looks at once; both must do the same work at the same entries.
  // One dependent told an entry: ends wait in dep_ends across entries, and across restarts.
  for (const seed of [19, 26, 41]) {
    const log = randomLog(seed, 600);
    const few = { settlesPerEntry: 1, recapJobsPerEntry: 1 };
    const a = await freshMachine(few);
    const b = await freshMachine(few);
    try {
      let kept = 0;
      let recapsKept = 0;
      for (let i = 0; i < log.length; i += 5) {
        a.sm.applyEntries(log.slice(i, i + 5));
        assert.ok(a.sm.dueFloorHolds(), `seed ${seed}: the floor after entry ${i + 5}`);
        if (a.sm.deps.pending) kept++;
        if (a.sm.groups.recapPending) recapsKept++;
        else assert.deepEqual(misflagged(a.dd), [], `seed ${seed}: flags after entry ${i + 5}`);
        // What it keeps of each queue's finished jobs is what a new one reads from the tables.
        const fresh = new QueueStateMachine(a.dd.db, few);
        assert.equal(a.sm.nextDueMs(20_000), fresh.nextDueMs(20_000), `seed ${seed}: ${i + 5}`);
      }
      assert.ok(kept > 0, `seed ${seed}: no end was kept for a later entry`);
      assert.ok(recapsKept > 0, `seed ${seed}: no recap went on in a later entry`);
      let sm = b.sm;
      for (let i = 0; i < log.length; i += 5) {
        if (i % 35 === 0) sm = new QueueStateMachine(b.dd.db, few); // a restart
        sm.applyEntries(log.slice(i, i + 5));
      }
      const rows = dumpTables(a.dd) as unknown as {
        jobs: { state: string; depends_on: string | null }[];
        events: { data: string }[];
        schedules: { last_job_id: string | null }[];
      };
      assert.ok(rows.jobs.some((j) => j.depends_on), `seed ${seed}: no job waited for another`);
      assert.ok(rows.schedules.some((s) => s.last_job_id), `seed ${seed}: no schedule fired`);
      // The due work happened: leases expired, ttls ran out, delayed jobs were promoted.
      assert.ok(a.sm.tallies.leasesExpired > 0, `seed ${seed}: no lease expired`);
      assert.ok(
        rows.events.some((e) => e.data.includes('"expired"')),
        `seed ${seed}: no ttl ran out`,
      );
      assert.ok(rows.events.some((e) => e.data.includes("promoted")), `seed ${seed}: no promotion`);
      assert.deepEqual(dumpTables(b.dd), rows);
    } finally {
      await drop(a.dd);
      await drop(b.dd);
    }
  }
});

Deno.test("snapshot: restoring a snapshot reproduces the tables, and the log continues from it", async () => {
  const log = randomLog(7, 400);
  const a = await freshMachine();
  const b = await freshMachine();
  try {
    a.sm.applyEntries(log.slice(0, 250));
    b.sm.applyEntries(log.slice(0, 40)); // something to replace
    copyStateThroughImage(a.dd.db, b.dd.db, 250);
    b.sm.reload();
    assert.equal(b.sm.appliedIndex, 250);
    assert.deepEqual(dumpTables(b.dd), dumpTables(a.dd));
    assert.deepEqual(b.sm.queueStats(), a.sm.queueStats());
    a.sm.applyEntries(log.slice(250));
    b.sm.applyEntries(log.slice(250));
    assert.deepEqual(dumpTables(b.dd), dumpTables(a.dd));
    assert.throws(() => copyStateThroughImage(a.dd.db, b.dd.db, 251), /metadata says 251/);
    assert.deepEqual(dumpTables(b.dd), dumpTables(a.dd), "a refused install changes nothing");
  } finally {
    await drop(a.dd);
    await drop(b.dd);
  }
});

Deno.test("snapshot: every table is in the images, or is named here as this node's own", async () => {
  const { dd } = await freshMachine();
  try {
    const nodeOwn = ["node_meta", "raft_hard_state", "raft_log", "raft_snapshot", "raft_image"];
    const tables = dd.db.conn.db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' " +
        "AND name NOT LIKE 'kysely_%'",
    ).all().map((r) => String(r.name));
    const missing = tables.filter((t) =>
      !nodeOwn.includes(t) && !(stateTables as readonly string[]).includes(t)
    );
    assert.deepEqual(missing, [], "a replicated table left out of snapshots diverges on install");
  } finally {
    await drop(dd);
  }
});
