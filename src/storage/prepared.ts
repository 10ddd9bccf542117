// Kysely-built statements compiled once and re-run with new arguments (no SQL building per call).

import type { Compilable, CompiledQuery } from "kysely";
import type { SqliteConnection } from "./sqlite.ts";

/** SQLite's plan of a compiled query (`EXPLAIN QUERY PLAN`), its steps joined by "; ". */
export function queryPlan(conn: SqliteConnection, q: CompiledQuery): string {
  const rows = conn.executeCompiled<{ detail: string }>({
    ...q,
    sql: `EXPLAIN QUERY PLAN ${q.sql}`,
  }).rows;
  return rows.map((r) => r.detail).join("; ");
}

/**
 * Builds a query with Kysely once, using a unique marker for each named argument, and returns a
 * function that yields the same compiled SQL with the real arguments in the markers' places.
 * Other bound parameters (constants written into the builder) keep their values.
 *
 * ```ts
 * const byId = prepare(["id"], (p) => db.selectFrom("jobs").selectAll().where("id", "=", p.id));
 * conn.executeCompiled(byId({ id: "12-0" }));
 * ```
 */
export function prepare<K extends string, R = unknown>(
  names: readonly K[],
  build: (p: Record<K, never>) => Compilable<R>,
): (args: Record<K, unknown>) => CompiledQuery<R> {
  const markers = Object.fromEntries(names.map((n) => [n, `\u0001${n}\u0001`])) as Record<
    K,
    never
  >;
  const compiled = build(markers).compile();
  const slots = compiled.parameters.map((p) => {
    const marked = typeof p === "string" && p.length > 2 && p.startsWith("\u0001") &&
      p.endsWith("\u0001");
    const name = marked ? (p as string).slice(1, -1) : undefined;
    if (name !== undefined && !names.includes(name as K)) {
      throw new Error(`prepare: unknown argument ${name} in "${compiled.sql}"`);
    }
    return name === undefined
      ? { name: undefined, value: p }
      : { name: name as K, value: undefined };
  });
  for (const n of names) {
    if (!slots.some((s) => s.name === n)) {
      throw new Error(`prepare: argument ${n} is not a bound parameter of "${compiled.sql}"`);
    }
  }
  return (args) => ({
    ...compiled,
    parameters: slots.map((s) => (s.name === undefined ? s.value : args[s.name])),
  });
}
