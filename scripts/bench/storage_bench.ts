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
