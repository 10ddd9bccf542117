// Snapshot images: the queue's tables in a SQLite file of their own, made and installed by steps
// that a worker thread runs (production) or the caller runs inline (the simulator).

import { Buffer } from "node:buffer";

/** The tables that are the replicated state machine; every other table is this node's own. */
export const stateTables = [
  "queue_state",
  "jobs",
  "job_payloads",
  "ready_runs",
  "run_payloads",
  "idempotency",
  "queue_counts",
  "queue_settings",
  "schedules",
  "queue_groups",
  "queue_rate",
  "events",
  "events_trimmed",
  "job_deps",
  "dep_ends",
  "group_recaps",
] as const;

/** Bytes after an image on the wire: magic, image length (u64), SHA-256 of the image. */
export const trailerBytes = 48;
const magic = "RAFTQIMG";

/** The few calls of node:sqlite's DatabaseSync the steps use. */
export interface StepDb {
  exec(sql: string): void;
  prepare(sql: string): {
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
    run(...params: unknown[]): unknown;
  };
}

/** node:crypto's createHash, passed in so a step has no import of its own. */
export type HashMaker = (algorithm: "sha256") => {
  update(data: Uint8Array): unknown;
  digest(encoding: "hex"): string;
};

/** The SHA-256 (hex) of a file's first `bytes` bytes: fileSha256 bound to a HashMaker. */
export type Digest = (path: string, bytes: number) => string;

/** A made image: the applied index it holds, its size and digest. */
export interface ImageFacts {
  index: number;
  bytes: number;
  sha256: string;
}

/** One SQL statement with its parameters (compiled by the caller, run inside the install). */
export interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/*
 * Each step below is self-contained (no imports, no helpers outside its body): the worker is
 * built from their source text, which works the same from the sources, the bundle and the
 * compiled executable.
 */

/**
 * Copies the state tables of the database `db` is open on into a new file `dest` in one read
 * transaction (WAL gives it a fixed view while the node writes on), then syncs the file and
 * returns what it holds. `version` goes in the image's user_version (the schema it was made by).
 */
export function captureImage(
  db: StepDb,
  dest: string,
  tables: readonly string[],
  version: number,
  digest: Digest,
): ImageFacts {
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const list = tables.map((t) => `'${t.replaceAll("'", "''")}'`).join(", ");
  db.prepare("ATTACH DATABASE ? AS img").run(dest);
  let index = 0;
  try {
    db.exec("PRAGMA img.journal_mode = OFF; PRAGMA img.synchronous = OFF");
    db.exec("BEGIN");
    try {
      const state = db.prepare("SELECT applied_index FROM main.queue_state WHERE id = 1").get() as
        | { applied_index: number }
        | undefined;
      index = Number(state?.applied_index ?? 0);
      const schema = db.prepare(
        `SELECT type, name, sql FROM main.sqlite_master WHERE sql IS NOT NULL AND tbl_name IN (${list}) ORDER BY type DESC`,
      ).all() as { type: string; name: string; sql: string }[];
      const inSchema = (sql: string) =>
        sql.replace(/^(\s*create\s+(?:unique\s+)?(?:table|index)\s+)/i, "$1img.");
      for (const s of schema.filter((s) => s.type === "table")) {
        db.exec(inSchema(s.sql));
        db.exec(`INSERT INTO img.${quote(s.name)} SELECT * FROM main.${quote(s.name)}`);
      }
      for (const s of schema.filter((s) => s.type === "index")) db.exec(inSchema(s.sql));
      db.exec(`PRAGMA img.user_version = ${Math.trunc(version)}`);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.exec("DETACH DATABASE img");
  }
  const file = Deno.openSync(dest, { read: true, write: true });
  let bytes = 0;
  try {
    file.syncSync();
    bytes = file.statSync().size;
  } finally {
    file.close();
  }
  return { index, bytes, sha256: digest(dest, bytes) };
}

/** The SHA-256 (hex) of the first `bytes` bytes of the file at `path`; throws if it is shorter. */
export function fileSha256(path: string, bytes: number, createHash: HashMaker): string {
  const file = Deno.openSync(path);
  try {
    const hash = createHash("sha256");
    const buf = new Uint8Array(1 << 20);
    for (let left = bytes; left > 0;) {
      const n = file.readSync(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null || n === 0) throw new Error(`${path} ended ${left} bytes early`);
      hash.update(buf.subarray(0, n));
      left -= n;
    }
    return hash.digest("hex");
  } finally {
    file.close();
  }
}

/**
 * Checks a received file (an image followed by its trailer) against what its trailer says
 * (`expected`, read by readTrailer): its length and SHA-256. Cuts the trailer off and syncs the
 * file. Throws, naming what is wrong, when a check fails.
 */
export function verifyImage(
  path: string,
  expected: { bytes: number; sha256: string },
  digest: Digest,
): void {
  const file = Deno.openSync(path, { read: true, write: true });
  try {
    const size = file.statSync().size;
    if (size !== expected.bytes + 48) {
      throw new Error(
        `the received snapshot has ${size} bytes, its trailer says ${expected.bytes}`,
      );
    }
    if (digest(path, expected.bytes) !== expected.sha256) {
      throw new Error("the received snapshot fails its SHA-256 check");
    }
    file.truncateSync(expected.bytes);
    file.syncSync();
  } finally {
    file.close();
  }
}

/**
 * Makes the received image `db` is open on a whole database of this node's: its own tables (all
 * but `tables`) with their rows from the database at `mainPath` (`emptyTables` without), then
 * `finish` (the caller's log bookkeeping), then a sync. The file is not live until it is
 * swapped in (Database.swapIn), so it is written without a journal: a crash leaves a stray file.
 * Refuses an image of another schema or index.
 */
export function completeImage(
  db: StepDb,
  imagePath: string,
  mainPath: string,
  tables: readonly string[],
  emptyTables: readonly string[],
  expected: { version: number; index: number },
  finish: readonly Statement[],
): void {
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const made = Number(
    (db.prepare("PRAGMA user_version").get() as { user_version: number } | undefined)
      ?.user_version ?? -1,
  );
  if (made !== expected.version) {
    throw new Error(
      `the snapshot was made by raftq schema ${made}, this node has schema ${expected.version}: run one raftq version across the cluster`,
    );
  }
  const state = db.prepare("SELECT applied_index FROM queue_state WHERE id = 1").get() as
    | { applied_index: number }
    | undefined;
  if (Number(state?.applied_index ?? 0) !== expected.index) {
    throw new Error(
      `the snapshot holds index ${state?.applied_index}, its metadata says ${expected.index}`,
    );
  }
  db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
  db.prepare("ATTACH DATABASE ? AS cur").run(mainPath);
  try {
    const list = tables.map((t) => `'${t.replaceAll("'", "''")}'`).join(", ");
    const schema = db.prepare(
      `SELECT type, name, sql FROM cur.sqlite_master WHERE sql IS NOT NULL AND tbl_name NOT IN (${list}) AND name NOT LIKE 'sqlite_%' ORDER BY type DESC`,
    ).all() as { type: string; name: string; sql: string }[];
    db.exec("BEGIN");
    try {
      for (const s of schema.filter((s) => s.type === "table")) {
        db.exec(s.sql);
        if (emptyTables.includes(s.name)) continue;
        db.exec(`INSERT INTO main.${quote(s.name)} SELECT * FROM cur.${quote(s.name)}`);
      }
      for (const s of schema.filter((s) => s.type === "index")) db.exec(s.sql);
      for (const s of finish) db.prepare(s.sql).run(...s.parameters);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK"); // (the file is thrown away: without a journal it may hold anything)
      throw err;
    }
  } finally {
    db.exec("DETACH DATABASE cur");
  }
  const file = Deno.openSync(imagePath, { read: true, write: true });
  try {
    file.syncSync();
  } finally {
    file.close();
  }
}

/**
 * Replaces the state tables of `db`'s database with those of the image at `src`, and runs
 * `finish` (the caller's log bookkeeping), in one IMMEDIATE transaction committed with
 * synchronous=FULL: a crash leaves the old state or the new one. For an image completeImage has
 * checked (its schema and index), when it cannot be swapped in.
 */
export function installImage(
  db: StepDb,
  src: string,
  tables: readonly string[],
  finish: readonly Statement[],
): void {
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  db.prepare("ATTACH DATABASE ? AS img").run(src);
  try {
    db.exec("PRAGMA main.synchronous = FULL");
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const t of tables) {
        const columns = (db.prepare(`PRAGMA main.table_info(${quote(t)})`).all() as {
          name: string;
        }[]).map((c) => quote(c.name)).join(", ");
        db.exec(`DELETE FROM main.${quote(t)}`);
        db.exec(
          `INSERT INTO main.${quote(t)} (${columns}) SELECT ${columns} FROM img.${quote(t)}`,
        );
      }
      for (const s of finish) db.prepare(s.sql).run(...s.parameters);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.exec("DETACH DATABASE img");
  }
}

/** The trailer sent after an image of `bytes` bytes with digest `sha256` (hex). */
export function imageTrailer(bytes: number, sha256: string): Uint8Array {
  const out = new Uint8Array(trailerBytes);
  out.set(new TextEncoder().encode(magic));
  new DataView(out.buffer).setBigUint64(8, BigInt(bytes));
  out.set(Buffer.from(sha256, "hex"), 16);
  return out;
}

/** What a received trailer says (the inverse of imageTrailer), or null when it is not one. */
export function readTrailer(trailer: Uint8Array): { bytes: number; sha256: string } | null {
  if (trailer.length !== trailerBytes) return null;
  if (new TextDecoder().decode(trailer.subarray(0, 8)) !== magic) return null;
  const view = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  return {
    bytes: Number(view.getBigUint64(8)),
    sha256: Buffer.from(trailer.subarray(16)).toString("hex"),
  };
}
