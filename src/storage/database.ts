// The SQLite file: opened with the pragmas raftq relies on, checked, migrated, one writer.

import { type CompiledQuery, Kysely, sql } from "kysely";
import { Checkpointer } from "./checkpointer.ts";
import { fileBytes, openWal, removeSideFiles, syncDirectoryOf } from "./db_files.ts";
import { checkDatabase, longReadUnderWay, stepsUnderWay, watchLongReads } from "./image_worker.ts";
import { NodeSqliteDialect } from "./dialect.ts";
import { sqliteReason, StorageFatalError } from "./errors.ts";
import { StartupError } from "../errors.ts";
import { migrate } from "./migrations.ts";
import type { Tables } from "./schema.ts";
import { SqliteConnection } from "./sqlite.ts";

export interface OpenOptions {
  /** Milliseconds SQLite waits for a lock held by another connection. */
  busyTimeoutMs?: number;
  /** Skip PRAGMA quick_check (tests of damaged files turn it on explicitly). */
  skipQuickCheck?: boolean;
  /**
   * quick_check reads the whole file (about 5 s for 10 million jobs): a larger file opens at
   * once and is checked by checkDeferred() while the node serves. Default 256 MiB.
   */
  quickCheckInlineMaxBytes?: number;
}

/**
 * What the WAL file is cut back to when SQLite resets it (it otherwise keeps its peak size): above
 * the default bound of 64 MiB (checkpointOffLoop), so a WAL reset at the bound reuses the file
 * whole. Cut back to 16 MiB, the commit that did it took 69-88 ms, and the 99th percentile of
 * commits in a throwaway burst of 1,000-row transactions was 27 ms against 14.
 */
const walSizeLimitBytes = 80 * 1024 * 1024;

/** Files up to this size are checked at open; larger ones after, by checkDeferred(). */
const defaultQuickCheckInlineMaxBytes = 256 * 1024 * 1024;

/**
 * One open database. Durability: WAL journal with synchronous=FULL, so every COMMIT fsyncs the
 * WAL before it returns; a transaction that returned is on disk and survives kill -9 and power
 * loss (as far as the disk honours fsync). The node's hot path instead commits with NORMAL and
 * then awaits flushWal(), the same fsync of the same file, off the event loop.
 */
export class Database {
  readonly conn: SqliteConnection;
  readonly kysely: Kysely<Tables>;
  readonly path: string;
  #begin: CompiledQuery;
  #commit: CompiledQuery;
  #rollback: CompiledQuery;
  #syncFull: CompiledQuery;
  #syncNormal: CompiledQuery;
  #savepoint: { open: CompiledQuery; release: CompiledQuery; undo: CompiledQuery };
  #synchronousFull = true;
  /** The write-ahead log, kept open to flush it off the event loop (null for `:memory:`). */
  #wal: Deno.FsFile | null = null;
  /** Told each WAL fdatasync's seconds, from its call to its completion (the node's metric). */
  onWalSynced?: (seconds: number) => void;
  #checkpointer: Checkpointer | null = null;
  /** How checkpointOffLoop was asked for, to start again after a swap (swapIn). */
  #offLoop: { onError: (message: string) => void; boundPages: number } | null = null;
  #busyTimeoutMs = 5000;
  #checkDeferred = false;

  private constructor(path: string, conn: SqliteConnection) {
    this.path = path;
    this.conn = conn;
    this.kysely = new Kysely<Tables>({ dialect: new NodeSqliteDialect(conn) });
    this.#begin = sql`BEGIN IMMEDIATE`.compile(this.kysely);
    this.#commit = sql`COMMIT`.compile(this.kysely);
    this.#rollback = sql`ROLLBACK`.compile(this.kysely);
    this.#syncFull = sql`PRAGMA synchronous = FULL`.compile(this.kysely);
    this.#syncNormal = sql`PRAGMA synchronous = NORMAL`.compile(this.kysely);
    this.#savepoint = {
      open: sql`SAVEPOINT part`.compile(this.kysely),
      release: sql`RELEASE part`.compile(this.kysely),
      undo: sql`ROLLBACK TO part`.compile(this.kysely),
    };
  }

  /** Opens (creating if absent), checks and migrates the file; throws StartupError. */
  static async open(path: string, options: OpenOptions = {}): Promise<Database> {
    let conn: SqliteConnection;
    try {
      conn = new SqliteConnection(path);
    } catch (err) {
      throw new StartupError(`cannot open ${path}: ${sqliteReason(err)}`);
    }
    const db = new Database(path, conn);
    db.#busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    try {
      db.#configure();
      if (!options.skipQuickCheck) {
        const inlineMax = options.quickCheckInlineMaxBytes ?? defaultQuickCheckInlineMaxBytes;
        if (fileBytes(path) <= inlineMax) {
          const damage = damageFound(path, db.pragma(sql`PRAGMA quick_check`));
          if (damage) throw new StartupError(damage);
        } else {
          db.#checkDeferred = true;
        }
      }
      await migrate(db.kysely);
      db.#wal = openWal(path);
    } catch (err) {
      conn.close();
      if (err instanceof StartupError) throw err;
      throw new StartupError(describeOpenFailure(path, err));
    }
    return db;
  }

  /** The pragmas every connection of the node's runs with (at open, and again after a swap). */
  #configure(): void {
    this.pragma(sql`PRAGMA busy_timeout = ${sql.lit(this.#busyTimeoutMs)}`);
    const mode = this.pragma(sql`PRAGMA journal_mode = WAL`);
    const journal = String(Object.values(mode[0] ?? {})[0]).toLowerCase();
    // (A database in memory, for tests in process, has no WAL and no durability to keep.)
    if (journal !== "wal" && !(this.path === ":memory:" && journal === "memory")) {
      throw new StartupError(`${this.path}: SQLite refused WAL mode`);
    }
    this.pragma(sql`PRAGMA synchronous = FULL`);
    this.#synchronousFull = true;
    this.pragma(sql`PRAGMA foreign_keys = ON`);
  }

  pragma(query: { compile(db: Kysely<Tables>): CompiledQuery }): Record<string, unknown>[] {
    return this.conn.executeCompiled<Record<string, unknown>>(query.compile(this.kysely)).rows;
  }

  /**
   * FULL: commits fsync the WAL (entries, term, vote). NORMAL: they do not (applying entries that
   * are already durable). Only switches when the mode changes.
   */
  setSynchronous(full: boolean): void {
    if (full === this.#synchronousFull) return;
    this.conn.executeCompiled(full ? this.#syncFull : this.#syncNormal);
    this.#synchronousFull = full;
  }

  /**
   * Makes every transaction committed so far durable, without blocking the event loop: an
   * fdatasync of the WAL on a runtime thread. A commit under synchronous=NORMAL followed by this
   * is exactly what synchronous=FULL does inside COMMIT (SQLite fsyncs the same file), so the node
   * commits its Ready with NORMAL, serves requests while the disk flushes, and answers after.
   * A failure is a StorageFatalError (an fsync is never retried).
   */
  async flushWal(): Promise<void> {
    if (!this.#wal) return;
    try {
      const startedMs = performance.now();
      await this.#wal.syncData();
      this.onWalSynced?.((performance.now() - startedMs) / 1000);
    } catch (err) {
      throw new StorageFatalError(`fsync of ${this.path}-wal failed: ${sqliteReason(err)}`, {
        cause: err,
      });
    }
    // The flush is only worth something if it reached the file SQLite writes: checked each time
    // (two stat calls), so a WAL replaced under us stops the node before it acknowledges.
    if (!this.#walIsSqlites()) {
      throw new StorageFatalError(
        `${this.path}-wal is no longer the file raftq flushes (it was removed or replaced while the node ran)`,
      );
    }
  }

  /** Whether the file flushWal() flushes is still the one at `<path>-wal`. */
  #walIsSqlites(): boolean {
    try {
      const open = this.#wal!.statSync();
      const named = Deno.statSync(`${this.path}-wal`);
      return open.ino === named.ino && open.dev === named.dev;
    } catch {
      return false;
    }
  }

  /**
   * Moves WAL checkpoints to a worker thread (Checkpointer): SQLite's automatic checkpoint on
   * this connection copies every changed page back and fsyncs the file inside a commit, on the
   * event loop. It stays as a bound, at `boundPages` pages of WAL (64 MiB), should the worker
   * fall behind. For a node's life; not for short-lived connections (tools, tests).
   */
  checkpointOffLoop(onError: (message: string) => void, boundPages = 16_384): void {
    if (this.path === ":memory:" || this.#checkpointer) return;
    this.#offLoop = { onError, boundPages };
    this.#autocheckpoint(boundPages);
    // The WAL file keeps its largest size once reset; cut it back to this when it is.
    this.pragma(sql`PRAGMA journal_size_limit = ${sql.lit(walSizeLimitBytes)}`);
    this.#checkpointer = new Checkpointer(this.path, onError);
    // (told at once, lifting the bound, when a long read is under way already)
    watchLongReads(this.path, (reading) => this.#longReads(reading));
  }

  #autocheckpoint(pages: number): void {
    this.pragma(sql`PRAGMA wal_autocheckpoint = ${sql.lit(Math.trunc(pages))}`);
  }

  /**
   * A long read (a capture, a backup's copy, the deferred quick_check) holds one view of the file
   * for seconds, and no checkpoint copies back what is written meanwhile: the first commit after
   * it ended then copied all of that inline, on the event loop (a 452 ms turn after a 3.8 s check
   * of a 4,000,000-job file, the WAL at 113 MiB). The bound is lifted while one runs (the WAL then
   * grows with every write until it ends: SQLite cannot copy back past the reader), and set
   * again once the worker has copied the WAL back (Checkpointer.catchUp).
   */
  #longReads(reading: boolean): void {
    const checkpointer = this.#checkpointer;
    const offLoop = this.#offLoop;
    if (!checkpointer || !offLoop) return;
    if (reading) return this.#autocheckpoint(0);
    checkpointer.catchUp().then(() => {
      if (this.#checkpointer === checkpointer && !longReadUnderWay(this.path)) {
        this.#autocheckpoint(offLoop.boundPages);
      }
    });
  }

  /** Checkpoints completed off the loop (0 when they run inline). */
  get checkpointsOffLoop(): number {
    return this.#checkpointer?.done ?? 0;
  }

  /** Ends off-loop checkpoints cleanly (before close(), when there is time to wait). */
  async stopCheckpoints(): Promise<void> {
    const c = this.#checkpointer;
    this.#checkpointer = null;
    watchLongReads(this.path, null);
    await c?.stop();
  }

  /**
   * Puts the complete database at `imagePath` (a received snapshot made whole by completeImage)
   * in place of this file and reopens the connection on it: nothing of the image is copied. The
   * WAL is checkpointed into the old file and emptied first, so nothing of the old state can be
   * replayed onto the new one, and the rename is the one step a crash sees: before it the old
   * file, after it the new. `done` gets false, with nothing changed, while another connection of
   * this process has the file open (a capture, a backup's copy): the caller copies instead.
   */
  swapIn(imagePath: string, done: (error: Error | null, swapped: boolean) => void): void {
    const checkpointer = this.#checkpointer;
    if (!checkpointer) return this.#swapNow(imagePath, false, done);
    this.#checkpointer = null; // its connection must close first
    // A last checkpoint on its worker, so the one before the rename (on the loop) finds the WAL
    // copied back already and only empties it.
    checkpointer.stop(true).then(
      () => this.#swapNow(imagePath, true, done),
      (err) => done(err instanceof Error ? err : new Error(String(err)), false),
    );
  }

  #swapNow(
    imagePath: string,
    checkpointing: boolean,
    done: (e: Error | null, ok: boolean) => void,
  ) {
    let swapped: boolean;
    try {
      swapped = this.#replaceFile(imagePath);
    } catch (err) {
      const reason = `swapping ${imagePath} in for ${this.path} failed: ${sqliteReason(err)}`;
      return done(new StorageFatalError(reason, { cause: err }), false);
    }
    if (checkpointing && this.#offLoop) {
      this.checkpointOffLoop(this.#offLoop.onError, this.#offLoop.boundPages);
    }
    done(null, swapped);
  }

  #replaceFile(imagePath: string): boolean {
    if (!this.#wal || stepsUnderWay(this.path) > 0) return false;
    // Without waiting for a reader (the loop is blocked meanwhile): busy says one holds the WAL.
    this.pragma(sql`PRAGMA busy_timeout = 0`);
    const [row] = this.pragma(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
    this.pragma(sql`PRAGMA busy_timeout = ${sql.lit(this.#busyTimeoutMs)}`);
    if (Number(row?.busy ?? 1) !== 0) return false;
    this.#wal.close();
    this.#wal = null;
    this.conn.close();
    try {
      removeSideFiles(this.path);
      Deno.renameSync(imagePath, this.path);
      syncDirectoryOf(this.path);
    } finally {
      // The old file again if the rename did not happen (and the error stops the node).
      this.conn.reopen(this.path);
      this.#configure();
      this.pragma(sql`PRAGMA schema_version`); // a first read: SQLite makes the WAL file
      this.#wal = openWal(this.path);
    }
    return true;
  }

  /**
   * Runs the quick_check open() left for later (a large file) on a worker's read-only connection,
   * which sees one consistent view while the node writes on. Resolves to the damage found, as
   * one line, or null (also when nothing was deferred).
   */
  async checkDeferred(): Promise<string | null> {
    if (!this.#checkDeferred) return null;
    this.#checkDeferred = false;
    let rows: Record<string, unknown>[];
    try {
      rows = await checkDatabase(this.path);
    } catch (err) {
      // Damage bad enough makes quick_check fail outright rather than list what it found.
      const reason = sqliteReason(err);
      if (!/malformed|corrupt|not a database/i.test(reason)) throw err;
      return damageFound(this.path, [{ quick_check: reason }]);
    }
    return damageFound(this.path, rows);
  }

  /** One transaction (fsynced at commit under FULL); a failure is a StorageFatalError. */
  transaction<T>(fn: () => T): T {
    try {
      const result = this.conn.transaction(this.#begin, this.#commit, this.#rollback, fn);
      this.#checkpointer?.markDirty();
      return result;
    } catch (err) {
      // SQLite's own failures are the storage's; anything else (a bug) keeps its own identity.
      if ((err as { code?: unknown })?.code !== "ERR_SQLITE_ERROR") throw err;
      throw new StorageFatalError(`SQLite write failed: ${sqliteReason(err)}`, { cause: err });
    }
  }

  /**
   * Runs `fn` inside the open transaction so that, if it throws, exactly its changes are undone
   * and the transaction goes on (a savepoint); the error is rethrown as it was, unclassified.
   */
  savepoint<T>(fn: () => T): T {
    if (!this.conn.db.isTransaction) throw new Error("savepoint() needs an open transaction");
    this.conn.executeCompiled(this.#savepoint.open);
    try {
      const result = fn();
      this.conn.executeCompiled(this.#savepoint.release);
      return result;
    } catch (err) {
      this.conn.executeCompiled(this.#savepoint.undo);
      this.conn.executeCompiled(this.#savepoint.release);
      throw err;
    }
  }

  close(): void {
    this.#checkpointer?.terminate();
    this.#checkpointer = null;
    watchLongReads(this.path, null);
    this.#wal?.close();
    this.#wal = null;
    this.conn.close();
  }
}

/** quick_check's rows as one line of damage, or null when it said "ok". */
function damageFound(path: string, rows: Record<string, unknown>[]): string | null {
  const problems = rows.map((r) => String(Object.values(r)[0]).replace(/\s+/g, " ").trim())
    .filter((v) => v !== "ok");
  if (problems.length === 0) return null;
  return `${path} is damaged (SQLite quick_check: ${
    problems.slice(0, 3).join("; ")
  }): restore it from a backup, or remove this node's data directory and rejoin it`;
}

function describeOpenFailure(path: string, err: unknown): string {
  const reason = sqliteReason(err);
  if (/not a database/i.test(reason)) {
    return `${path} is not a raftq database (SQLite: ${reason}); move it away or point --data elsewhere`;
  }
  if (/malformed|corrupt/i.test(reason)) {
    return `${path} is damaged (SQLite: ${reason}): restore it from a backup, or remove this node's data directory and rejoin it`;
  }
  if (/disk is full|SQLITE_FULL/i.test(reason)) {
    return `the disk holding ${path} is full (SQLite: ${reason}): free some space and start again`;
  }
  if (/readonly|read-only|permission|access/i.test(reason)) {
    return `cannot write ${path} (SQLite: ${reason}): check the data directory's permissions`;
  }
  return `cannot open ${path}: ${reason}`;
}
