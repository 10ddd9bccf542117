// Jobs' rows read and completed many at a time: the acks that follow each other in a merged entry.

import { type CompiledQuery, sql } from "kysely";
import type { Database } from "../storage/database.ts";
import type { JobsTable } from "../storage/schema.ts";

/** The most rows one statement reads or completes (a merged entry's most commands). */
const mostRows = 256;

/** No row is stored under it: what pads a statement's list to its size. */
const noSeq = -1;

/** A job an ack completes: its row's seq and the result the ack carries. */
export interface Completion {
  seq: number;
  result: string | null;
}

/**
 * A read and an update an ack cost SQLite about twice what one read and one update of 27 acks'
 * rows together do (12.6 against 6.6 µs an ack, 2026-12-08): the statements' own work, not the
 * b-trees', which are the same. Each size's statement is built with Kysely once; a padded entry
 * (seq -1) matches no row.
 */
export class JobBatches {
  readonly #reads = new Map<number, CompiledQuery<JobsTable>>();
  readonly #completes = new Map<number, CompiledQuery>();

  constructor(readonly db: Database) {}

  /** The rows stored under `seqs` (those that have one), in no particular order. */
  rows(seqs: readonly number[]): JobsTable[] {
    const out: JobsTable[] = [];
    eachChunk(seqs.length, (at, n, size) => {
      const parameters: unknown[] = seqs.slice(at, at + n);
      while (parameters.length < size) parameters.push(noSeq);
      const q = { ...this.#read(size), parameters };
      for (const row of this.db.conn.executeCompiled<JobsTable>(q).rows) out.push(row);
    });
    return out;
  }

  /**
   * The jobs done at `nowMs`, each with its ack's result: what Transitions.end writes of a job
   * ending done (its last error stays, its lease is kept to answer a retried ack).
   */
  complete(done: readonly Completion[], nowMs: number): void {
    eachChunk(done.length, (at, n, size) => {
      const parameters: unknown[] = [nowMs, nowMs];
      for (let i = at; i < at + n; i++) parameters.push(done[i].seq, done[i].result);
      while (parameters.length < 2 + 2 * size) parameters.push(noSeq, null);
      this.db.conn.executeCompiled({ ...this.#complete(size), parameters });
    });
  }

  #read(size: number): CompiledQuery<JobsTable> {
    let q = this.#reads.get(size);
    if (!q) {
      const seqs = Array.from({ length: size }, () => 0);
      q = this.db.kysely.selectFrom("jobs").selectAll().where("seq", "in", seqs).compile();
      this.#reads.set(size, checked(q, size));
    }
    return q;
  }

  #complete(size: number): CompiledQuery {
    let q = this.#completes.get(size);
    if (!q) {
      const rows = sql.join(Array.from({ length: size }, () => sql`(${0}, ${null})`));
      q = sql`update jobs set state = 'done', result = v.column2, lease_expires_at = null,
        finished_at = ${0}, updated_at = ${0} from (values ${rows}) as v
        where jobs.seq = v.column1`.compile(this.db.kysely);
      this.#completes.set(size, checked(q, 2 + 2 * size));
    }
    return q;
  }
}

/** `q`, once it is known to bind `count` parameters (the callers pass them by position). */
function checked<Q extends CompiledQuery>(q: Q, count: number): Q {
  if (q.parameters.length !== count) {
    throw new Error(`expected ${count} parameters, found ${q.parameters.length}: ${q.sql}`);
  }
  return q;
}

/**
 * Calls `fn` for each chunk of at most mostRows of `length` items: `n` items from `at`, in a
 * statement of `size`, the power of two at or above `n` (so at most nine SQL texts a statement,
 * one statement a chunk; the rest of its list padded).
 */
function eachChunk(length: number, fn: (at: number, n: number, size: number) => void): void {
  for (let at = 0; at < length; at += mostRows) {
    const n = Math.min(mostRows, length - at);
    let size = 1;
    while (size < n) size *= 2;
    fn(at, n, size);
  }
}
