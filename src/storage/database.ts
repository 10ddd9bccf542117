// The SQLite file: opened with the pragmas raftq relies on, checked, migrated, one writer.

import { type CompiledQuery, Kysely, sql } from "kysely";
import { NodeSqliteDialect } from "./dialect.ts";
import { sqliteReason, StartupError, StorageFatalError } from "./errors.ts";
import { migrate } from "./migrations.ts";
import type { Tables } from "./schema.ts";
import { SqliteConnection } from "./sqlite.ts";

export interface OpenOptions {
  /** Milliseconds SQLite waits for a lock held by another connection. */
  busyTimeoutMs?: number;
  /** Skip PRAGMA quick_check (tests of damaged files turn it on explicitly). */
  skipQuickCheck?: boolean;
}

/**
 * One open database. Durability: WAL journal with synchronous=FULL, so every COMMIT fsyncs the
 * WAL before it returns; a transaction that returned is on disk and survives kill -9 and power
 * loss (as far as the disk honours fsync).
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
  #synchronousFull = true;

  private constructor(path: string, conn: SqliteConnection) {
    this.path = path;
    this.conn = conn;
    this.kysely = new Kysely<Tables>({ dialect: new NodeSqliteDialect(conn) });
    this.#begin = sql`BEGIN IMMEDIATE`.compile(this.kysely);
    this.#commit = sql`COMMIT`.compile(this.kysely);
    this.#rollback = sql`ROLLBACK`.compile(this.kysely);
    this.#syncFull = sql`PRAGMA synchronous = FULL`.compile(this.kysely);
    this.#syncNormal = sql`PRAGMA synchronous = NORMAL`.compile(this.kysely);
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
    try {
      db.pragma(sql`PRAGMA busy_timeout = ${sql.lit(options.busyTimeoutMs ?? 5000)}`);
      const mode = db.pragma(sql`PRAGMA journal_mode = WAL`);
      if (String(Object.values(mode[0] ?? {})[0]).toLowerCase() !== "wal") {
        throw new StartupError(`${path}: SQLite refused WAL mode`);
      }
      db.pragma(sql`PRAGMA synchronous = FULL`);
      db.pragma(sql`PRAGMA foreign_keys = ON`);
      if (!options.skipQuickCheck) {
        const rows = db.pragma(sql`PRAGMA quick_check`);
        const problems = rows.map((r) => String(Object.values(r)[0]).replace(/\s+/g, " ").trim())
          .filter((v) => v !== "ok");
        if (problems.length > 0) {
          throw new StartupError(
            `${path} is damaged (SQLite quick_check: ${
              problems.slice(0, 3).join("; ")
            }): restore it from a backup, or remove this node's data directory and rejoin it`,
          );
        }
      }
      await migrate(db.kysely);
    } catch (err) {
      conn.close();
      if (err instanceof StartupError) throw err;
      throw new StartupError(describeOpenFailure(path, err));
    }
    return db;
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

  /** Runs `fn` in one transaction: one fsync at commit. A failure is a StorageFatalError. */
  transaction<T>(fn: () => T): T {
    try {
      return this.conn.transaction(this.#begin, this.#commit, this.#rollback, fn);
    } catch (err) {
      if (err instanceof StorageFatalError) throw err;
      throw new StorageFatalError(`SQLite write failed: ${sqliteReason(err)}`, { cause: err });
    }
  }

  close(): void {
    this.conn.close();
  }
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
