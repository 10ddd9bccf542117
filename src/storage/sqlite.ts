// Synchronous execution of Kysely-compiled queries on node:sqlite, with a prepared-statement cache.

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Compilable, CompiledQuery } from "kysely";

export type SqlValue = null | number | bigint | string | Uint8Array;

/** A value as SQLite binds it: booleans as 1 or 0, undefined as NULL. */
export const sqlValue = (p: unknown): SqlValue =>
  (typeof p === "boolean" ? (p ? 1 : 0) : p === undefined ? null : p) as SqlValue;

export interface RunResult {
  changes: number;
  lastInsertRowid: number;
}

/** Upper bound on cached prepared statements; past it the cache starts over. */
const maxCachedStatements = 256;

/**
 * One SQLite connection. Every statement is built and compiled by Kysely; this class only
 * executes the compiled SQL, reusing one prepared statement per distinct SQL text, so the hot
 * path never re-parses SQL.
 */
export class SqliteConnection {
  #db: DatabaseSync;
  /** Prepared statements by SQL text, with whether each returns rows (asked of SQLite once). */
  #statements = new Map<string, { st: StatementSync; returnsRows: boolean }>();
  #depth = 0;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
  }

  get db(): DatabaseSync {
    return this.#db;
  }

  /** Closes this connection and opens `path` in its place (a swapped-in file); statements go. */
  reopen(path: string): void {
    this.close();
    this.#db = new DatabaseSync(path);
  }

  #prepare(sql: string): { st: StatementSync; returnsRows: boolean } {
    let prepared = this.#statements.get(sql);
    if (!prepared) {
      if (this.#statements.size >= maxCachedStatements) this.#statements.clear();
      const st = this.db.prepare(sql);
      prepared = { st, returnsRows: st.columns().length > 0 };
      this.#statements.set(sql, prepared);
    }
    return prepared;
  }

  static #params(parameters: readonly unknown[]): SqlValue[] {
    return parameters.map(sqlValue);
  }

  /** Runs a compiled query and returns its rows (empty for statements without a result). */
  executeCompiled<R>(
    query: CompiledQuery,
  ): { rows: R[]; changes: number; lastInsertRowid: number } {
    const { st, returnsRows } = this.#prepare(query.sql);
    const params = SqliteConnection.#params(query.parameters);
    if (returnsRows) {
      return { rows: st.all(...params) as R[], changes: 0, lastInsertRowid: 0 };
    }
    const r = st.run(...params);
    return { rows: [], changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
  }

  /**
   * Runs a statement that returns no rows with `values` bound as they are (see sqlValue), for
   * callers that bind thousands (a multi-row INSERT) and convert them as they gather them.
   */
  runWithValues(sql: string, values: readonly SqlValue[]): void {
    this.#prepare(sql).st.run(...values);
  }

  all<R>(query: Compilable<R>): R[] {
    return this.executeCompiled<R>(query.compile()).rows;
  }

  first<R>(query: Compilable<R>): R | undefined {
    return this.all(query)[0];
  }

  run(query: Compilable<unknown>): RunResult {
    const r = this.executeCompiled(query.compile());
    return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (at most one fsync, at commit); nested calls join the
   * outer transaction. Any throw rolls the whole transaction back.
   */
  transaction<T>(
    begin: CompiledQuery,
    commit: CompiledQuery,
    rollback: CompiledQuery,
    fn: () => T,
  ): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return fn();
      } finally {
        this.#depth--;
      }
    }
    this.executeCompiled(begin);
    this.#depth = 1;
    try {
      const result = fn();
      this.executeCompiled(commit);
      return result;
    } catch (err) {
      try {
        if (this.db.isTransaction) this.executeCompiled(rollback);
      } catch {
        // The original error matters more than a failed rollback.
      }
      throw err;
    } finally {
      this.#depth = 0;
    }
  }

  close(): void {
    this.#statements.clear();
    if (this.db.isOpen) this.db.close();
  }
}
