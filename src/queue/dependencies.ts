// Job dependencies: the pending edges from a job to those waiting for it, and the ends not yet
// settled.

import type { CompiledQuery } from "kysely";
import type { Database } from "../storage/database.ts";
import { BulkInsert } from "../storage/bulk_insert.ts";
import { prepare } from "../storage/prepared.ts";
import type { JobDepsTable } from "../storage/schema.ts";
import type { FinishedState } from "./commands.ts";

/** The most waiting jobs one entry tells of their dependencies' ends (every replica alike). */
export const settlesPerEntry = 1000;

/**
 * Tells a job waiting for `depId` that it ended as `depState`; true when that ends the job dead
 * (so its own waiting jobs are to be told in turn).
 */
export type Tell = (jobId: string, depId: string, depState: FinishedState) => boolean;

/** A job's end whose waiting jobs are not all told yet. */
export interface PendingEnd {
  seq: number;
  depId: string;
  state: FinishedState;
}

/**
 * An edge (dep_id → job_id) says that job waits for dep; it goes once dep has ended and that job
 * was told. A job's end tells its waiting jobs a bounded number at a time: an end with some left
 * when an entry's budget runs out is kept in dep_ends, and later entries go on, oldest first.
 * `#maybeAny` spares the lookup on every job's end while no job waits for anything (it only ever
 * errs towards looking, and decides nothing else); `pending` mirrors whether dep_ends holds a row.
 */
export class DependencyStore {
  readonly #db: Database;
  readonly #q;
  readonly #insertEdges: BulkInsert<JobDepsTable>;
  #maybeAny = true;
  #pending = false;
  readonly #perEntry: number;
  /** What the entry being applied may still tell. */
  #left = 0;

  /** `perEntry`: tests tell fewer an entry (every replica must use the same number). */
  constructor(db: Database, perEntry = settlesPerEntry) {
    this.#db = db;
    this.#perEntry = perEntry;
    const k = db.kysely;
    this.#q = {
      any: prepare([], () => k.selectFrom("job_deps").select("dep_id").limit(1)),
      dependents: prepare(
        ["depId", "limit"],
        (p) =>
          k.selectFrom("job_deps").select("job_id").where("dep_id", "=", p.depId)
            .orderBy("job_id").limit(p.limit),
      ),
      drop: prepare(
        ["depId", "lastId"],
        (p) =>
          k.deleteFrom("job_deps").where("dep_id", "=", p.depId).where("job_id", "<=", p.lastId),
      ),
      oldestEnd: prepare(
        [],
        () => k.selectFrom("dep_ends").select(["seq", "dep_id", "state"]).orderBy("seq").limit(1),
      ),
      pushEnd: prepare(
        ["depId", "state"],
        (p) => k.insertInto("dep_ends").values({ dep_id: p.depId, state: p.state }),
      ),
      dropEnd: prepare(["seq"], (p) => k.deleteFrom("dep_ends").where("seq", "=", p.seq)),
    };
    this.#insertEdges = new BulkInsert(
      (rows) => k.insertInto("job_deps").values(rows).onConflict((oc) => oc.doNothing()),
      (r) => [r.dep_id, r.job_id],
    );
    this.reload();
  }

  #all<R>(q: CompiledQuery): R[] {
    return this.#db.conn.executeCompiled<R>(q).rows;
  }

  /** Reads again what is stored (at start, after a rollback or a snapshot install). */
  reload(): void {
    this.#maybeAny = this.#all(this.#q.any({})).length > 0;
    this.#pending = this.oldestEnd() !== undefined;
  }

  /** Whether some end's waiting jobs are not all told yet. */
  get pending(): boolean {
    return this.#pending;
  }

  /** Records edges in a few multi-row inserts (a flow's: up to 10,000). */
  addAll(edges: readonly JobDepsTable[]): void {
    if (edges.length === 0) return;
    this.#insertEdges.run(this.#db.conn, edges);
    this.#maybeAny = true;
  }

  /** Up to `limit` of the jobs that wait for `depId`, by id; their edges go (it has ended). */
  takeDependents(depId: string, limit: number): string[] {
    if (!this.#maybeAny || limit <= 0) return [];
    const ids = this.#all<{ job_id: string }>(this.#q.dependents({ depId, limit }))
      .map((r) => r.job_id);
    if (ids.length > 0) this.#db.conn.executeCompiled(this.#q.drop({ depId, lastId: ids.at(-1) }));
    return ids;
  }

  /**
   * Starts an entry's budget and goes on with the ends earlier entries kept, oldest first. An end
   * stays until a look finds no waiting job left; each look costs at least one of the budget.
   */
  beginEntry(tell: Tell): void {
    this.#left = this.#perEntry;
    while (this.#pending && this.#left > 0) {
      const end = this.oldestEnd()!;
      const asked = this.#left;
      const ids = this.takeDependents(end.depId, asked);
      this.#left -= Math.max(1, ids.length);
      // (a job that ends dead is kept after this end: the table is the work list)
      for (const id of ids) if (tell(id, end.depId, end.state)) this.ended(id, "dead", tell);
      if (ids.length < asked) this.dropEnd(end.seq);
    }
  }

  /**
   * A job ended: tells the jobs waiting for it, and in turn theirs when they end dead (a work
   * list, not recursion: a chain of any length), within the entry's budget. What the budget does
   * not reach is kept for the next entries, in order, after the ends kept before.
   */
  ended(depId: string, depState: FinishedState, tell: Tell): void {
    // (not skipped while #maybeAny is false: that flag differs between a replica that restarted
    // and one that did not, while what an end costs the budget and whether it is kept may not)
    if (this.#pending) return this.pushEnd(depId, depState);
    const work: [string, FinishedState][] = [[depId, depState]];
    let k = 0;
    while (k < work.length && this.#left > 0) {
      const [id, state] = work[k];
      const ids = this.takeDependents(id, this.#left);
      this.#left -= Math.max(1, ids.length);
      for (const jobId of ids) if (tell(jobId, id, state)) work.push([jobId, "dead"]);
      if (this.#left <= 0 && ids.length > 0) break; // (it may have more waiting: kept first)
      k++;
    }
    for (const [id, state] of work.slice(k)) this.pushEnd(id, state);
  }

  /** Keeps an end whose waiting jobs are not all told, after those kept before it. */
  pushEnd(depId: string, state: FinishedState): void {
    this.#db.conn.executeCompiled(this.#q.pushEnd({ depId, state }));
    this.#pending = true;
  }

  oldestEnd(): PendingEnd | undefined {
    const row = this.#all<{ seq: number; dep_id: string; state: FinishedState }>(
      this.#q.oldestEnd({}),
    )[0];
    return row && { seq: row.seq, depId: row.dep_id, state: row.state };
  }

  /** An end whose waiting jobs have all been told. */
  dropEnd(seq: number): void {
    this.#db.conn.executeCompiled(this.#q.dropEnd({ seq }));
    this.#pending = this.oldestEnd() !== undefined;
  }

  /** The statements, for the query-plan test. */
  get queries() {
    return this.#q;
  }
}
