// Job dependencies: the pending edges from a job to those waiting for it, found by the index.

import type { CompiledQuery } from "kysely";
import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";

/**
 * An edge (dep_id → job_id) says that job waits for dep; it goes once dep has ended and its
 * waiting jobs were told. `#maybeAny` spares the lookup on every job's end while no job waits
 * for anything (it only ever errs towards looking).
 */
export class DependencyStore {
  readonly #db: Database;
  readonly #q;
  #maybeAny = true;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#q = {
      any: prepare([], () => k.selectFrom("job_deps").select("dep_id").limit(1)),
      add: prepare(
        ["depId", "jobId"],
        (p) =>
          k.insertInto("job_deps").values({ dep_id: p.depId, job_id: p.jobId })
            .onConflict((oc) => oc.doNothing()),
      ),
      dependents: prepare(
        ["depId"],
        (p) => k.selectFrom("job_deps").select("job_id").where("dep_id", "=", p.depId),
      ),
      drop: prepare(["depId"], (p) => k.deleteFrom("job_deps").where("dep_id", "=", p.depId)),
    };
    this.reload();
  }

  #all<R>(q: CompiledQuery): R[] {
    return this.#db.conn.executeCompiled<R>(q).rows;
  }

  /** Reads again whether any edge exists (at start, after a snapshot install). */
  reload(): void {
    this.#maybeAny = this.#all(this.#q.any({})).length > 0;
  }

  add(depId: string, jobId: string): void {
    this.#db.conn.executeCompiled(this.#q.add({ depId, jobId }));
    this.#maybeAny = true;
  }

  /** The jobs that wait for `depId`, by id; their edges go (it has ended). */
  takeDependents(depId: string): string[] {
    if (!this.#maybeAny) return [];
    const ids = this.#all<{ job_id: string }>(this.#q.dependents({ depId })).map((r) => r.job_id);
    if (ids.length > 0) this.#db.conn.executeCompiled(this.#q.drop({ depId }));
    return ids;
  }

  /** The statements, for the query-plan test. */
  get queries() {
    return this.#q;
  }
}
