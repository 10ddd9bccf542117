// Runs of plain ready jobs kept as one row until claimed: a batch writes a run, not a row a job.

import { BulkInsert } from "../storage/bulk_insert.ts";
import type { Database } from "../storage/database.ts";
import type { JobsTable, ReadyRunsTable, RunPayloadsTable } from "../storage/schema.ts";
import { noGroup } from "./groups.ts";
import { idOfSeq } from "./job_ids.ts";
import { inlinePayloadChars } from "./job_payloads.ts";
import { isPlainRow, jobParams, newJobRow } from "./job_rows.ts";
import { runQueries } from "./ready_run_queries.ts";

/**
 * The fewest jobs kept as a run. A job's row and its two index entries cost a 1,000-job entry
 * about 4 µs a job on every node; a run costs two rows for the lot, and each job's row is
 * written once, when it is claimed (an insert where a claim otherwise updates).
 */
export const defaultMinRunJobs = 16;

/** What leasing a job writes into its row (see WorkerCommands). */
export interface LeaseFields {
  lease: string;
  expires: number;
  worker: string | null;
  now: number;
}

/** A run's payloads as read (claims go through a run in order: one read a run). */
interface ParsedPayloads {
  id: number;
  texts: string;
  ends: number[];
}

/**
 * Characters of runs' payloads kept once read, the least recently used forgotten first: claims
 * that take turns between queues (or priorities) each holding runs would otherwise read a run's
 * payloads again at every claim (a 1,000-job run's, about 90 KB: on one state machine, claims
 * taking turns between two queues took 728–801 µs an entry with one run's payloads kept, 230–237
 * with this cache, 273–297 with the jobs' rows). The run read last is kept whatever its size: an
 * entry's payloads at most.
 */
export const payloadCacheChars = 2 * 1024 * 1024;

/**
 * The runs of plain ready jobs (ready_runs and run_payloads): a job of a run has no row in jobs
 * until it leaves the run — claimed (its row inserted leased) or changed by id (detach: its row
 * inserted ready, the run split around it). Every read of a ready job consults both: `job`,
 * `best` (claim order) and `newest` (listings). A run row exists only while it holds a job.
 */
export class ReadyRuns {
  readonly #db: Database;
  readonly #q;
  readonly #insertRun: BulkInsert<ReadyRunsTable>;
  readonly #insertPayloads: BulkInsert<RunPayloadsTable>;
  readonly #insertJobs: BulkInsert<JobsTable>;
  /** The run each row `best` made came from: how a claim tells them from rows of jobs. */
  #origins = new WeakMap<JobsTable, ReadyRunsTable>();
  /** Payloads read, by id, the least recently used first (see payloadCacheChars). */
  #payloads = new Map<number, ParsedPayloads>();
  #cachedChars = 0;

  constructor(db: Database, readonly minRunJobs = defaultMinRunJobs) {
    this.#db = db;
    const k = db.kysely;
    this.#q = runQueries(k);
    this.#insertRun = new BulkInsert((rows) => k.insertInto("ready_runs").values(rows), runParams);
    this.#insertPayloads = new BulkInsert(
      (rows) => k.insertInto("run_payloads").values(rows),
      (r) => [r.id, r.end_seq, r.texts, r.ends],
    );
    this.#insertJobs = new BulkInsert((rows) => k.insertInto("jobs").values(rows), jobParams);
  }

  /** The statements, by name (for the query-plan test). */
  get queries() {
    return this.#q;
  }

  /**
   * Keeps the runs of at least minRunJobs consecutive runnable rows as runs, and returns the
   * other rows, in order, for the jobs table. Rows must be in seq order (an entry's jobs are).
   */
  keep(rows: readonly JobsTable[]): JobsTable[] {
    const rest: JobsTable[] = [];
    let start = 0;
    let startRunnable = rows.length > 0 && runnable(rows[0]);
    for (let i = 1; i <= rows.length; i++) {
      const next = i < rows.length && runnable(rows[i]);
      if (next && startRunnable && follows(rows[i - 1], rows[i])) continue;
      if (startRunnable && i - start >= this.minRunJobs) this.#write(rows, start, i);
      else for (let j = start; j < i; j++) rest.push(rows[j]);
      start = i;
      startRunnable = next;
    }
    return rest;
  }

  #write(rows: readonly JobsTable[], from: number, to: number): void {
    const first = rows[from];
    const end = rows[to - 1].seq + 1;
    const texts: string[] = [];
    const ends: number[] = [];
    let at = 0;
    for (let i = from; i < to; i++) {
      texts.push(rows[i].payload);
      at += rows[i].payload.length;
      ends.push(at);
    }
    // (not kept read: a fill would hold the latest runs' payloads on every node, long enough for
    // them to reach V8's old generation, for claims that may come much later)
    const payloads = { id: first.seq, end_seq: end, texts: texts.join(""), ends: "" };
    payloads.ends = JSON.stringify(ends);
    this.#insertPayloads.run(this.#db.conn, [payloads]);
    this.#insertRun.run(this.#db.conn, [{
      first_seq: first.seq,
      queue: first.queue,
      priority: first.priority,
      available_at: first.available_at,
      max_attempts: first.max_attempts,
      created_at: first.created_at,
      next_seq: first.seq,
      end_seq: end,
      payloads_id: first.seq,
    }]);
  }

  /** The job of `seq` (named `id`) while it is in a run, as its row would be; else undefined. */
  job(seq: number, id: string): JobsTable | undefined {
    const run = this.#runOf(seq, id);
    return run ? this.#row(run, seq) : undefined;
  }

  /** The run holding the job of `seq`, if `id` is that job's very id. */
  #runOf(seq: number, id: string): ReadyRunsTable | undefined {
    if (seq < 0 || id !== idOfSeq(seq)) return undefined;
    const run = this.#all<ReadyRunsTable>(this.#q.containing({ seq }))[0];
    return run && seq >= run.next_seq && seq < run.end_seq ? run : undefined;
  }

  /**
   * Takes the job of `seq` out of its run and writes its row (ready, as enqueued), for a command
   * that changes it by id; returns that row, or undefined when no run holds it.
   */
  detach(seq: number, id: string): JobsTable | undefined {
    const run = this.#runOf(seq, id);
    if (!run) return undefined;
    const row = this.#row(run, seq);
    if (seq === run.next_seq) this.#advance(run, seq + 1);
    else {
      const end = run.end_seq;
      this.#run(this.#q.setEnd({ first: run.first_seq, end: seq }));
      if (seq + 1 < end) {
        this.#insertRun.run(this.#db.conn, [{ ...run, first_seq: seq + 1, next_seq: seq + 1 }]);
      }
    }
    this.#insertJobs.run(this.#db.conn, [row]);
    return row;
  }

  /** Up to `limit` jobs of the queue's runs, in claim order (priority, then age, then seq). */
  best(queue: string, limit: number): JobsTable[] {
    const out: JobsTable[] = [];
    for (const run of this.#all<ReadyRunsTable>(this.#q.claimOrder({ queue, limit }))) {
      for (let seq = run.next_seq; seq < run.end_seq && out.length < limit; seq++) {
        const row = this.#row(run, seq);
        this.#origins.set(row, run);
        out.push(row);
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Whether `row` is one `best` read from a run (its job has no row in jobs yet). */
  holds(row: JobsTable): boolean {
    return this.#origins.has(row);
  }

  /**
   * Leases rows `best` returned (each run's from its first job on, in order), row k under
   * `fields[k]`: their rows are inserted leased together (BulkInsert's multi-row INSERTs), and
   * their runs shrink or go.
   */
  lease(rows: readonly JobsTable[], fields: readonly LeaseFields[]): void {
    if (rows.length === 0) return;
    const leased = rows.map((row, k) => ({
      ...row,
      state: "leased" as const,
      lease: fields[k].lease,
      lease_expires_at: fields[k].expires,
      attempts: row.attempts + 1,
      worker: fields[k].worker,
      updated_at: fields[k].now,
    }));
    this.#insertJobs.run(this.#db.conn, leased);
    let i = 0;
    while (i < rows.length) {
      const run = this.#origins.get(rows[i])!;
      let seq = run.next_seq;
      for (; i < rows.length && this.#origins.get(rows[i]) === run; i++, seq++) {
        if (rows[i].seq !== seq) throw new Error(`run ${run.first_seq}: job ${seq} skipped`);
      }
      this.#advance(run, seq);
    }
  }

  /** Sets the run's first job to `next`; a run left empty goes, and its payloads with the last. */
  #advance(run: ReadyRunsTable, next: number): void {
    run.next_seq = next;
    if (next < run.end_seq) {
      this.#run(this.#q.setNext({ first: run.first_seq, next }));
      return;
    }
    this.#run(this.#q.drop({ first: run.first_seq }));
    const pid = run.payloads_id;
    const end = this.#all<{ end_seq: number }>(this.#q.payloadsEnd({ id: pid }))[0]?.end_seq;
    if (end === undefined) throw new Error(`run ${run.first_seq} has lost its payloads`);
    if (this.#all(this.#q.sharing({ id: pid, end })).length > 0) return;
    this.#run(this.#q.dropPayloads({ id: pid }));
    this.#forget(pid);
  }

  /**
   * The ids and seqs of the queue's run jobs below seq `before`, newest first, at most `limit`
   * (a listing merges them with the rows' own).
   */
  newest(queue: string, before: number, limit: number): { id: string; seq: number }[] {
    const out: { id: string; seq: number }[] = [];
    const runs = this.#all<ReadyRunsTable>(this.#q.newest({ queue, before, limit: limit + 1 }));
    for (const run of runs) {
      for (let seq = Math.min(run.end_seq, before) - 1; seq >= run.next_seq; seq--) {
        if (out.length >= limit) return out;
        out.push({ id: idOfSeq(seq), seq });
      }
    }
    return out;
  }

  /** Characters of payloads kept read (see payloadCacheChars). */
  get cachedChars(): number {
    return this.#cachedChars;
  }

  /** Forgets the payloads read last (a snapshot install replaced the tables). */
  reset(): void {
    this.#payloads.clear();
    this.#cachedChars = 0;
    this.#origins = new WeakMap();
  }

  /** The job of `seq` in `run`, as the row its enqueue would have written. */
  #row(run: ReadyRunsTable, seq: number): JobsTable {
    const job = {
      payload: this.#payload(run.payloads_id, seq),
      delayMs: run.available_at - run.created_at,
      priority: run.priority,
    };
    return newJobRow(
      idOfSeq(seq),
      run.queue,
      "ready",
      seq,
      job,
      run.created_at,
      run.max_attempts,
      0,
    );
  }

  #payload(id: number, seq: number): string {
    let p = this.#payloads.get(id);
    if (p === undefined) {
      const row = this.#all<RunPayloadsTable>(this.#q.payloads({ id }))[0];
      if (!row) throw new Error(`run payloads ${id} are missing`);
      p = { id, texts: row.texts, ends: JSON.parse(row.ends) };
    }
    this.#remember(p);
    const k = seq - id;
    return p.texts.slice(k === 0 ? 0 : p.ends[k - 1], p.ends[k]);
  }

  /** Keeps `p` as the payloads read last, and forgets the oldest beyond payloadCacheChars. */
  #remember(p: ParsedPayloads): void {
    const known = this.#payloads.delete(p.id); // (set again: the Map's order is recency)
    this.#payloads.set(p.id, p);
    if (known) return;
    this.#cachedChars += p.texts.length;
    for (const [id, old] of this.#payloads) {
      if (this.#cachedChars <= payloadCacheChars || old === p) break;
      this.#forget(id);
    }
  }

  #forget(id: number): void {
    const p = this.#payloads.get(id);
    if (p === undefined) return;
    this.#payloads.delete(id);
    this.#cachedChars -= p.texts.length;
  }

  #all<R>(q: Parameters<Database["conn"]["executeCompiled"]>[0]): R[] {
    return this.#db.conn.executeCompiled<R>(q).rows;
  }

  #run(q: Parameters<Database["conn"]["executeCompiled"]>[0]): void {
    this.#db.conn.executeCompiled(q);
  }
}

/**
 * A row a run may hold: ready, in no group, with no optional column set and its payload inline,
 * exactly as its enqueue wrote it.
 */
function runnable(r: JobsTable): boolean {
  return r.state === "ready" && r.grp === noGroup && isPlainRow(r) &&
    r.payload.length <= inlinePayloadChars && r.attempts === 0 && r.deps_left === 0 &&
    r.available_at === r.created_at && r.updated_at === r.created_at;
}

/**
 * Whether runnable `b` follows runnable `a` in one run: the next seq, and everything but the
 * payload the same.
 */
function follows(a: JobsTable, b: JobsTable): boolean {
  return b.seq === a.seq + 1 && b.queue === a.queue && b.priority === a.priority &&
    b.max_attempts === a.max_attempts && b.created_at === a.created_at;
}

const runParams = (r: ReadyRunsTable): unknown[] => [
  r.first_seq,
  r.queue,
  r.priority,
  r.available_at,
  r.max_attempts,
  r.created_at,
  r.next_seq,
  r.end_seq,
  r.payloads_id,
];
