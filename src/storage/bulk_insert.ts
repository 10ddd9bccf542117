// Multi-row INSERTs built by Kysely once per row count, then run with new parameters.

import type { Compilable, CompiledQuery } from "kysely";
import { type SqliteConnection, type SqlValue, sqlValue } from "./sqlite.ts";

/** Row counts of the INSERTs a batch is split into, so few SQL texts exist. */
const insertSizes = [256, 64, 16, 4, 1] as const;

/**
 * Inserts many rows with few statements: one SQLite call per chunk instead of per row, and no
 * SQL built or compiled on the hot path. `params` lists a row's values in the order the
 * compiled INSERT binds them (checked when each size is first compiled).
 */
export class BulkInsert<Row> {
  readonly #compiled = new Map<number, CompiledQuery>();

  constructor(
    readonly build: (rows: Row[]) => Compilable<unknown>,
    readonly params: (row: Row) => unknown[],
  ) {}

  run(conn: SqliteConnection, rows: readonly Row[]): void {
    for (let at = 0; at < rows.length;) {
      const size = insertSizes.find((n) => n <= rows.length - at)!;
      const chunk = rows.slice(at, at + size);
      conn.runWithValues(this.#insertFor(chunk).sql, this.#parameters(chunk));
      at += size;
    }
  }

  /**
   * The rows' values in order, as SQLite binds them (a loop: flatMap is several times slower in
   * V8, and a second pass over thousands of values costs as much as gathering them).
   */
  #parameters(rows: readonly Row[]): SqlValue[] {
    const out: SqlValue[] = [];
    for (const row of rows) {
      const values = this.params(row);
      for (let i = 0; i < values.length; i++) out.push(sqlValue(values[i]));
    }
    return out;
  }

  #insertFor(rows: Row[]): CompiledQuery {
    let compiled = this.#compiled.get(rows.length);
    if (!compiled) {
      compiled = this.build(rows).compile();
      const expected = this.#parameters(rows);
      if (
        compiled.parameters.length !== expected.length ||
        compiled.parameters.some((p, i) => sqlValue(p) !== expected[i])
      ) {
        throw new Error(`INSERT parameters are not in row-major column order: ${compiled.sql}`);
      }
      this.#compiled.set(rows.length, compiled);
    }
    return compiled;
  }
}
