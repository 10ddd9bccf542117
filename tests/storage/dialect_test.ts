// The node:sqlite dialect: a LIMIT that SQLite does not prepare again at every run; rows as
// node:sqlite makes them.

import assert from "node:assert/strict";
import { Kysely, sql } from "kysely";
import { NodeSqliteDialect } from "../../src/storage/dialect.ts";
import { prepare } from "../../src/storage/prepared.ts";
import { SqliteConnection } from "../../src/storage/sqlite.ts";

interface Tables {
  t: { n: number; name: string };
}

function fiveRows(): { conn: SqliteConnection; k: Kysely<Tables> } {
  const conn = new SqliteConnection(":memory:");
  conn.db.exec("CREATE TABLE t (n INTEGER PRIMARY KEY, name TEXT NOT NULL)");
  for (let n = 1; n <= 5; n++) conn.db.prepare("INSERT INTO t VALUES (?, ?)").run(n, `r${n}`);
  return { conn, k: new Kysely<Tables>({ dialect: new NodeSqliteDialect(conn) }) };
}

Deno.test("dialect: a bound LIMIT takes each run's value, and is not a bare parameter", () => {
  const { conn, k } = fiveRows();
  const page = prepare(
    ["after", "limit"],
    (p) => k.selectFrom("t").select("n").where("n", ">", p.after).orderBy("n").limit(p.limit),
  );
  // A bare `limit ?` makes SQLite prepare the statement again each time it is bound.
  assert.doesNotMatch(page({ after: 0, limit: 1 }).sql, /limit \?/i);
  assert.doesNotMatch(k.selectFrom("t").select("n").limit(1).compile().sql, /limit \?/i);
  const ns = (after: number, limit: number) =>
    conn.executeCompiled<{ n: number }>(page({ after, limit })).rows.map((r) => r.n);
  assert.deepEqual(ns(0, 1), [1]);
  assert.deepEqual(ns(0, 3), [1, 2, 3]);
  assert.deepEqual(ns(2, 2), [3, 4]);
  assert.deepEqual(ns(0, 0), []);
  assert.deepEqual(ns(3, 100), [4, 5]);
  // An OFFSET beside it still binds as before.
  const skipped = k.selectFrom("t").select("n").orderBy("n").limit(2).offset(3).compile();
  assert.deepEqual(conn.executeCompiled<{ n: number }>(skipped).rows.map((r) => r.n), [4, 5]);
  conn.close();
});

Deno.test("sqlite: rows made of SQLite's arrays hold what node:sqlite's own rows hold", () => {
  const conn = new SqliteConnection(":memory:");
  const query = sql`SELECT 1 AS a, 2.5 AS "b c", NULL AS "d""e", x'0102' AS blob, 'x' AS a,
    9007199254740991 AS big, 'it''s' AS "{}"`.compile(
    new Kysely({ dialect: new NodeSqliteDialect(conn) }),
  );
  const native = conn.db.prepare(query.sql).all();
  const rows = conn.executeCompiled<Record<string, unknown>>(query).rows;
  assert.deepEqual(rows, native.map((r) => ({ ...r })), "a name given twice keeps its last column");
  assert.deepEqual(Object.keys(rows[0]), ["a", "b c", 'd"e', "blob", "big", "{}"]);
  // A column named __proto__ is a field, never the row's prototype.
  const proto = sql`SELECT 1 AS "__proto__", 2 AS n`.compile(
    new Kysely({ dialect: new NodeSqliteDialect(conn) }),
  );
  const [row] = conn.executeCompiled<Record<string, unknown>>(proto).rows;
  assert.equal(Object.hasOwn(row, "__proto__"), true);
  assert.equal(row.n, 2);
  conn.close();
});

Deno.test("sqlite: a SELECT * prepared before a schema change reads the new columns after it", () => {
  const conn = new SqliteConnection(":memory:");
  const k = new Kysely({ dialect: new NodeSqliteDialect(conn) });
  conn.db.exec("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)");
  const all = sql`SELECT * FROM t`.compile(k);
  assert.deepEqual(conn.executeCompiled(all).rows, [{ a: 1 }]);
  conn.executeCompiled(sql`ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'`.compile(k));
  assert.deepEqual(conn.executeCompiled(all).rows, [{ a: 1, b: "x" }]);
  conn.executeCompiled(sql`ALTER TABLE t DROP COLUMN a`.compile(k));
  assert.deepEqual(conn.executeCompiled(all).rows, [{ b: "x" }]);
  conn.close();
});
