// A Kysely dialect for Deno's built-in node:sqlite, over one SqliteConnection.

import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type LimitNode,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  ValueNode,
} from "kysely";
import type { SqliteConnection } from "./sqlite.ts";

/**
 * SQLite's compiler, but a bound LIMIT is written `limit (? + 0)`. SQLite plans with the value
 * bound to a bare `limit ?` and so prepares the statement again whenever that parameter is bound,
 * which node:sqlite does at every run: about 5 µs a run here, more than the rest of a one-row read.
 * `(? + 0)` is an expression SQLite evaluates as the statement runs, so the statement stays
 * prepared. (OFFSET has no such cost.)
 */
class RaftqQueryCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    if (!ValueNode.is(node.limit) || node.limit.immediate) return super.visitLimit(node);
    this.append("limit (");
    this.visitNode(node.limit);
    this.append(" + 0)");
  }
}

class NodeSqliteDatabaseConnection implements DatabaseConnection {
  constructor(readonly conn: SqliteConnection) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const r = this.conn.executeCompiled<R>(compiledQuery);
      return Promise.resolve({
        rows: r.rows,
        numAffectedRows: BigInt(r.changes),
        insertId: r.lastInsertRowid ? BigInt(r.lastInsertRowid) : undefined,
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // deno-lint-ignore require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("Streaming is not supported by the node:sqlite dialect");
  }
}

class NodeSqliteDriver implements Driver {
  #connection: NodeSqliteDatabaseConnection;

  constructor(conn: SqliteConnection) {
    this.#connection = new NodeSqliteDatabaseConnection(conn);
  }

  async init(): Promise<void> {}

  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(this.#connection);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    // The SqliteConnection's owner closes it.
  }
}

/** Kysely's four dialect parts for node:sqlite: driver, compiler, adapter, introspector. */
export class NodeSqliteDialect implements Dialect {
  constructor(readonly conn: SqliteConnection) {}

  createDriver(): Driver {
    return new NodeSqliteDriver(this.conn);
  }

  createQueryCompiler(): SqliteQueryCompiler {
    return new RaftqQueryCompiler();
  }

  createAdapter(): SqliteAdapter {
    return new SqliteAdapter();
  }

  // deno-lint-ignore no-explicit-any
  createIntrospector(db: Kysely<any>): SqliteIntrospector {
    return new SqliteIntrospector(db);
  }
}
