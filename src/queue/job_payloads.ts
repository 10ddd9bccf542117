// Long payloads, kept in a table of their own: a claim, an ack or any other change of a job then
// rewrites its small row, never the pages of a payload it does not change.

import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";
import type { JobPayloadsTable, JobsTable } from "../storage/schema.ts";
import { BulkInsert } from "../storage/bulk_insert.ts";
import { RawJson } from "./json_text.ts";

/**
 * Payloads longer than this (characters) are kept apart. SQLite rewrites a whole row, overflow
 * pages included, whenever a column of it changes: a job of 64 KiB took 645 µs to claim and 551
 * to ack on one state machine, against 48 and 36 for one of 160 bytes. Shorter payloads stay in
 * the row, where an enqueue writes one b-tree and a claim reads one.
 */
export const inlinePayloadChars = 1024;

/** A job row's payload when the payload is kept apart: never a valid JSON text itself. */
const keptApart = "";

export class JobPayloads {
  readonly #db: Database;
  readonly #insert: BulkInsert<JobPayloadsTable>;
  readonly #q;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#insert = new BulkInsert(
      (rows) => k.insertInto("job_payloads").values(rows),
      (r) => [r.seq, r.payload],
    );
    this.#q = {
      get: prepare(
        ["seq"],
        (p) => k.selectFrom("job_payloads").select("payload").where("seq", "=", p.seq),
      ),
      drop: prepare(["seq"], (p) => k.deleteFrom("job_payloads").where("seq", "=", p.seq)),
    };
  }

  /** Moves the long payloads of rows about to be inserted into the table; their rows keep none. */
  setApart(rows: JobsTable[]): void {
    const apart: JobPayloadsTable[] = [];
    for (const row of rows) {
      if (row.payload.length <= inlinePayloadChars) continue;
      apart.push({ seq: row.seq, payload: row.payload });
      row.payload = keptApart;
    }
    if (apart.length > 0) this.#insert.run(this.#db.conn, apart);
  }

  /** The payload of the job whose row is `row`, read from the table if it is kept apart. */
  textOf(row: { seq: number; payload: string }): string {
    if (row.payload !== keptApart) return row.payload;
    const found = this.#db.conn.executeCompiled<{ payload: string }>(this.#q.get({ seq: row.seq }));
    if (found.rows.length === 0) throw new Error(`job seq ${row.seq} has lost its payload`);
    return found.rows[0].payload;
  }

  /** The payload for an answer no one reads: the row's own, or `null` for one kept apart. */
  unread(row: { payload: string }): RawJson {
    return new RawJson(row.payload === keptApart ? "null" : row.payload);
  }

  /** `row` with its payload in place (a copy when it was kept apart). */
  whole(row: JobsTable): JobsTable {
    return row.payload === keptApart ? { ...row, payload: this.textOf(row) } : row;
  }

  /** Forgets the payloads of deleted jobs (`apart`: whether each job's row kept it apart). */
  forget(deleted: readonly { seq: number; apart: number }[]): void {
    for (const d of deleted) {
      if (d.apart) this.#db.conn.executeCompiled(this.#q.drop({ seq: d.seq }));
    }
  }
}

/** In a query over jobs: 1 where the row's payload is kept apart, else 0. */
export const keptApartSql = `payload = '${keptApart}'`;
