// A queue state machine over a temp data directory, fed commands as numbered log entries.

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/mod.ts";
import { encodeCommand, type NewJob, type QueueCommand } from "../../src/queue/commands.ts";
import type { ApplyResult } from "../../src/queue/results.ts";
import { type MachineOptions, QueueStateMachine } from "../../src/queue/state_machine.ts";
import { type DataDir, openDataDir } from "../../src/storage/data_dir.ts";
import type { RawJson } from "../../src/queue/json_text.ts";
import { stateTables } from "../../src/storage/state_image.ts";

/** A state machine over a temp data directory, fed entries with increasing indexes. */
export class Harness {
  index = 0;
  constructor(readonly dd: DataDir, public sm: QueueStateMachine) {}

  /** A new state machine on the same database, as after a restart. */
  restart(options: MachineOptions = {}): void {
    this.sm = new QueueStateMachine(this.dd.db, options);
  }

  static async open(options: MachineOptions = {}): Promise<Harness> {
    const dir = await Deno.makeTempDir({ prefix: "raftq-queue-" });
    const dd = await openDataDir(dir);
    return new Harness(dd, new QueueStateMachine(dd.db, options));
  }

  /** The next entry, carrying `cmd` stamped `stampMs`. */
  entry(stampMs: number, cmd: QueueCommand): Entry {
    return { index: ++this.index, term: 1, kind: "normal", data: encodeCommand(cmd, stampMs) };
  }

  /** An entry of one job whose payload is the JSON text `payload`. */
  enqueueText(stampMs: number, payload: string): Entry {
    const job = { payload, delayMs: 0, priority: 0, maxAttempts: 5 };
    return this.entry(stampMs, { type: "enqueue", queue: "q", jobs: [job] });
  }

  apply(stampMs: number, cmd: QueueCommand): ApplyResult {
    const entry = this.entry(stampMs, cmd);
    return this.sm.applyEntries([entry]).get(entry.index)!;
  }

  /** Enqueues jobs whose payloads are given as values (sent as their JSON text). */
  enqueue(
    stampMs: number,
    queue: string,
    ...jobs: (Omit<Partial<NewJob>, "payload"> & { payload?: unknown })[]
  ) {
    const full: NewJob[] = jobs.map((j) => ({
      delayMs: 0,
      priority: 0,
      maxAttempts: 5,
      ...j,
      payload: JSON.stringify(j.payload ?? null),
    }));
    const r = this.apply(stampMs, { type: "enqueue", queue, jobs: full });
    assert.equal(r.type, "enqueued");
    return r.type === "enqueued" ? r.jobs : [];
  }

  claim(stampMs: number, queue: string, max = 1, leaseMs = 30_000) {
    const r = this.apply(stampMs, { type: "claim", queue, worker: "w", max, leaseMs });
    assert.equal(r.type, "claimed");
    return r.type === "claimed" ? r.jobs : [];
  }

  async close(): Promise<void> {
    this.dd.close();
    await Deno.remove(this.dd.dir, { recursive: true });
  }
}

/**
 * Groups whose active flag is not what their counts and their queue's cap say: none, unless a
 * recap is under way (src/queue/groups.ts).
 */
export function misflaggedGroups(dd: DataDir): unknown[] {
  return dd.db.conn.db.prepare(
    `SELECT g.queue, g.grp, g.ready, g.leased, g.active FROM queue_groups g
     LEFT JOIN queue_settings s ON s.queue = g.queue
     WHERE g.active <> (g.ready > 0 AND (g.grp = '' OR g.leased <
       coalesce(json_extract(s.config, '$.groupConcurrency'), 9007199254740991)))`,
  ).all();
}

/**
 * Every replicated table (the image's, stateTables), its rows in one order: two replicas that
 * applied the same log must match.
 */
export function dumpTables(dd: DataDir): Record<string, Record<string, unknown>[]> {
  const c = dd.db.conn.db;
  return Object.fromEntries(stateTables.map((table) => {
    const rows = c.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
    const keyed = rows.map((row) => [JSON.stringify(row), row] as const);
    return [table, keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row)];
  }));
}

/** Users' JSON as a value (the state machine keeps it as text). */
export function value(raw: RawJson | undefined): unknown {
  return raw === undefined ? undefined : JSON.parse(raw.text);
}

export async function withHarness(
  fn: (h: Harness) => void | Promise<void>,
  options: MachineOptions = {},
): Promise<void> {
  const h = await Harness.open(options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Two state machines side by side (one log applied two ways, or one copied into the other). */
export async function withTwoHarnesses(
  fn: (a: Harness, b: Harness) => void | Promise<void>,
): Promise<void> {
  await withHarness((a) => withHarness((b) => fn(a, b)));
}
