// The node:sqlite dialect: a LIMIT that SQLite does not prepare again at every run.

import assert from "node:assert/strict";
import { Kysely } from "kysely";
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
