// Storage benchmark: durable appends per second through RaftStorage vs a plain prepared statement.

import { DatabaseSync } from "node:sqlite";
import type { Entry } from "../../src/raft/mod.ts";
import { openDataDir } from "../../src/storage/data_dir.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";

export interface StorageBenchRow {
  batch: number;
  entriesPerSecond: number;
  commitMedianMs: number;
  commitP99Ms: number;
  rawEntriesPerSecond: number;
}

const payload = "x".repeat(200);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Appends `batch`-sized transactions for about `durationMs`, each one fsynced. */
async function raftStorageRate(dir: string, batch: number, durationMs: number) {
  const dd = await openDataDir(dir);
  const storage = new RaftStorage(dd.db);
  const latencies: number[] = [];
  let index = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    const entries: Entry[] = [];
    for (let k = 0; k < batch; k++) {
      entries.push({ index: ++index, term: 1, kind: "normal", data: payload });
    }
    const t0 = performance.now();
    storage.persist({
      hardState: { term: 1, vote: "", commit: index - batch },
      entries,
    });
    now = performance.now();
    latencies.push(now - t0);
  }
  dd.close();
  latencies.sort((a, b) => a - b);
  return {
    entriesPerSecond: index / ((now - start) / 1000),
    medianMs: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

/** The same durable appends with one hand-written prepared statement: SQLite's own rate here. */
function rawSqliteRate(path: string, batch: number, durationMs: number): number {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  db.exec(
    "CREATE TABLE log (idx INTEGER PRIMARY KEY, term INTEGER, kind TEXT, data TEXT, change TEXT, checksum INTEGER)",
  );
  const insert = db.prepare("INSERT INTO log VALUES (?, ?, ?, ?, NULL, ?)");
  let index = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    db.exec("BEGIN IMMEDIATE");
    for (let k = 0; k < batch; k++) insert.run(++index, 1, "normal", payload, 0);
    db.exec("COMMIT");
    now = performance.now();
  }
  db.close();
  return index / ((now - start) / 1000);
}

export interface CompactionBenchRow {
  entries: number;
  entryBytes: number;
  compactMs: number;
  /** One-entry writes until no covered row was left, and the longest of them. */
  writes: number;
  longestWriteMs: number;
  /** The median one-entry write once nothing was left to delete. */
  plainWriteMs: number;
}

/**
 * Compacts `count` entries of `entryBytes` as a node does (the snapshot row in a FULL commit),
 * then times one-entry writes (synchronous=NORMAL, as a node's Ready) until no covered row is
 * left: how long the event loop is held at once by a compaction.
 */
async function compactionSteps(dir: string, count: number, entryBytes: number) {
  const dd = await openDataDir(dir);
  dd.db.checkpointOffLoop(() => {}); // as a node does: the timings are its loop's
  const storage = new RaftStorage(dd.db);
  const data = "x".repeat(entryBytes);
  const perWrite = Math.max(1, Math.floor(4_000_000 / entryBytes));
  let index = 0;
  dd.db.setSynchronous(false);
  while (index < count) {
    const entries: Entry[] = [];
    while (entries.length < perWrite && index < count) {
      entries.push({ index: ++index, term: 1, kind: "normal", data });
    }
    storage.persist({ hardState: null, entries });
  }
  // One more than is compacted, so the log is never empty.
  storage.persist({
    hardState: null,
    entries: [{ index: ++index, term: 1, kind: "normal", data }],
  });
  await dd.db.flushWal(); // a node's log is durable before it is compacted
  dd.db.setSynchronous(true);
  let t0 = performance.now();
  storage.saveSnapshotMetaOnly({ index: count, term: 1, membership: { members: [] } });
  const compactMs = performance.now() - t0;
  dd.db.setSynchronous(false);
  const left = dd.db.conn.db.prepare("SELECT 1 AS one FROM raft_log WHERE idx <= ? LIMIT 1");
  const write = () => {
    t0 = performance.now();
    storage.persist({
      hardState: null,
      entries: [{ index: ++index, term: 1, kind: "normal", data: payload }],
    });
    return performance.now() - t0;
  };
  const writes: number[] = [];
  const turn = () => new Promise((resolve) => setTimeout(resolve, 1)); // the checkpointer's turn
  while (left.get(count) !== undefined) {
    writes.push(write());
    await turn();
  }
  const plain: number[] = [];
  for (let k = 0; k < 200; k++) {
    plain.push(write());
    await turn();
  }
  plain.sort((a, b) => a - b);
  await dd.db.stopCheckpoints();
  dd.close();
  return {
    entries: count,
    entryBytes,
    compactMs,
    writes: writes.length,
    longestWriteMs: Math.max(0, ...writes),
    plainWriteMs: quantile(plain, 0.5),
  };
}

export async function benchCompaction(quick: boolean): Promise<CompactionBenchRow[]> {
  const root = await Deno.makeTempDir({ prefix: "raftq-bench-compaction-" });
  try {
    // --snapshot-every's default, and half of --log-retain-bytes' default in batch-fill entries.
    return [
      await compactionSteps(`${root}/small`, quick ? 10_000 : 100_000, 200),
      await compactionSteps(`${root}/large`, quick ? 40 : 850, 150_000),
    ];
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

export async function benchStorage(
  durationMs: number,
): Promise<{ dir: string; rows: StorageBenchRow[] }> {
  const root = await Deno.makeTempDir({ prefix: "raftq-bench-storage-" });
  const rows: StorageBenchRow[] = [];
  try {
    for (const batch of [1, 64, 256, 1024]) {
      const r = await raftStorageRate(`${root}/raftq-${batch}`, batch, durationMs);
      const raw = rawSqliteRate(`${root}/raw-${batch}.db`, batch, durationMs);
      rows.push({
        batch,
        entriesPerSecond: r.entriesPerSecond,
        commitMedianMs: r.medianMs,
        commitP99Ms: r.p99Ms,
        rawEntriesPerSecond: raw,
      });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  return { dir: root, rows };
}
