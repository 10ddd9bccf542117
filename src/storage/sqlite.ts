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

/** A prepared statement, and how it makes a row object of SQLite's array of columns. */
interface Prepared {
  st: StatementSync;
  returnsRows: boolean;
  /** CREATE, ALTER or DROP: once it ran, every statement is prepared again (executeCompiled). */
  changesSchema: boolean;
  /** Null: node:sqlite makes the rows (a statement without rows, or one naming __proto__). */
  toRow: ((columns: SqlValue[]) => Record<string, SqlValue>) | null;
}

/**
 * A function making a row object of a statement's columns, as one object literal. node:sqlite's
 * own row objects are built a property at a time: for a job's 24 columns 4.8–5.1 µs a row, against
 * 1.9–2.0 for arrays made into objects this way. The names are SQLite's for our own statements;
 * each is written as a JSON string, so no name can be anything but a key (but "__proto__", which
 * a literal takes for the prototype: such statements keep node:sqlite's rows). A name given twice
 * keeps its last column, as node:sqlite's rows do. The rows' prototype is Object's, not null.
 */
function rowMaker(names: readonly string[]): (columns: SqlValue[]) => Record<string, SqlValue> {
  const fields = names.map((name, k) => `${JSON.stringify(name)}: c[${k}]`);
  return new Function("c", `return { ${fields.join(", ")} };`) as (
    columns: SqlValue[],
  ) => Record<string, SqlValue>;
}

/** node:sqlite has it (Node 22.16 on, and Deno's); the types Deno ships do not say so yet. */
type ReturnsArrays = StatementSync & { setReturnArrays(enabled: boolean): void };

/** Upper bound on cached prepared statements; past it the cache starts over. */
const maxCachedStatements = 256;

/**
 * One SQLite connection. Every statement is built and compiled by Kysely; this class only
 * executes the compiled SQL, reusing one prepared statement per distinct SQL text, so the hot
 * path never re-parses SQL.
 */
export class SqliteConnection {
  #db: DatabaseSync;
  /** Prepared statements by SQL text, with how each makes its rows (null: it returns none). */
  #statements = new Map<string, Prepared>();
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

  #prepare(sql: string): Prepared {
    let prepared = this.#statements.get(sql);
    if (!prepared) {
      if (this.#statements.size >= maxCachedStatements) this.#statements.clear();
      const st = this.db.prepare(sql);
      const names = st.columns().map((c) => c.name);
      const arrays = names.length > 0 && !names.includes("__proto__");
      if (arrays) (st as ReturnsArrays).setReturnArrays(true);
      prepared = {
        st,
        returnsRows: names.length > 0,
        changesSchema: /^\s*(create|alter|drop)\s/i.test(sql),
        toRow: arrays ? rowMaker(names) : null,
      };
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
    const { st, returnsRows, toRow, changesSchema } = this.#prepare(query.sql);
    const params = SqliteConnection.#params(query.parameters);
    if (returnsRows) {
      const all = st.all(...params);
      const rows = toRow ? (all as unknown as SqlValue[][]).map(toRow) : all;
      return { rows: rows as R[], changes: 0, lastInsertRowid: 0 };
    }
    const r = st.run(...params);
    // A `SELECT *` prepared before would now return other columns than its row maker names.
    if (changesSchema) this.#statements.clear();
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
