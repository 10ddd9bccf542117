// Pages of a queue's jobs, newest first, by state or across states: index-backed, stable cursors.

import { sql } from "kysely";
import type { Database } from "../storage/database.ts";
import { prepare, queryPlan } from "../storage/prepared.ts";
import { type JobsTable, type JobState, jobStates } from "../storage/schema.ts";
import { type JobView, jobView } from "./job_view.ts";
import { prepareByJob, seqOfId, theJob } from "./job_ids.ts";
import type { JobPayloads } from "./job_payloads.ts";
import type { ReadyRuns } from "./ready_runs.ts";

/** Below every seq: a first page. */
const noCursor = Number.MAX_SAFE_INTEGER;

/**
 * The most bytes of users' data (payloads, results, progress, errors) one page holds: a page
 * ends early, with a cursor, rather than hold up to 1,000 jobs of 1 MiB in memory at once.
 */
export const maxPageBytes = 8 * 1024 * 1024;

export interface JobPage {
  jobs: JobView[];
  /** The cursor of the next page (the last job's seq), or null on the last page. */
  next: string | null;
}

/** The bytes of users' data a job row carries. */
function rowBytes(r: JobsTable): number {
  return r.payload.length + (r.result?.length ?? 0) + (r.progress?.length ?? 0) +
    (r.last_error?.length ?? 0);
}

/**
 * A page is chosen from the jobs_list index (queue, state, seq) — one range of ids per state, at
 * most `limit + 1` each, and as many of the ready runs' jobs, merged by seq — and only then are
 * its rows read, one by one, until the page is full or holds maxPageBytes. Newest first is
 * enqueue order (seq), which never changes, so a cursor stays valid while jobs move between
 * states.
 */
export class JobListing {
  readonly #db: Database;
  readonly #ids;
  readonly #groupIds;
  readonly #row;

  constructor(db: Database, readonly payloads: JobPayloads, readonly runs: ReadyRuns) {
    this.#db = db;
    const k = db.kysely;
    this.#ids = prepare(
      ["queue", "state", "before", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["id", "seq"]).where("queue", "=", p.queue)
          .where("state", "=", p.state).where("seq", "<", p.before).orderBy("seq", "desc")
          .limit(p.limit),
    );
    this.#groupIds = prepare(
      ["queue", "grp", "state", "before", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["id", "seq"]).where("queue", "=", p.queue)
          .where("grp", "=", p.grp).where(sql<boolean>`grp <> ''`) // (the partial index's)
          .where("state", "=", p.state).where("seq", "<", p.before).orderBy("seq", "desc")
          .limit(p.limit),
    );
    this.#row = prepareByJob(
      [],
      (p) => k.selectFrom("jobs").selectAll().where(theJob(p)),
    );
  }

  page(
    queue: string,
    state: JobState | undefined,
    limit: number,
    cursor?: number,
    group?: string,
  ): JobPage {
    const before = cursor ?? noCursor;
    const candidates: { id: string; seq: number }[] = [];
    for (const s of state ? [state] : jobStates) {
      const q = group === undefined
        ? this.#ids({ queue, state: s, before, limit: limit + 1 })
        : this.#groupIds({ queue, grp: group, state: s, before, limit: limit + 1 });
      candidates.push(...this.#db.conn.executeCompiled<{ id: string; seq: number }>(q).rows);
      if (s === "ready" && group === undefined) {
        candidates.push(...this.runs.newest(queue, before, limit + 1));
      }
    }
    candidates.sort((a, b) => b.seq - a.seq);
    const rows = this.rowsWithin(candidates.slice(0, limit).map((c) => c.id));
    const more = rows.length > 0 && candidates.length > rows.length;
    return { jobs: rows.map(jobView), next: more ? String(rows[rows.length - 1].seq) : null };
  }

  /**
   * The rows of `ids` (payloads in place), in order, read one by one until they hold maxPageBytes
   * of users' data (always at least one): the rows of a page, whatever its jobs weigh.
   */
  rowsWithin(ids: readonly string[]): JobsTable[] {
    const rows: JobsTable[] = [];
    let bytes = 0;
    for (const id of ids) {
      if (rows.length > 0 && bytes >= maxPageBytes) break;
      const row = this.#db.conn.executeCompiled<JobsTable>(this.#row({ id })).rows[0] ??
        this.runs.job(seqOfId(id), id);
      if (!row) continue;
      const whole = this.payloads.whole(row);
      rows.push(whole);
      bytes += rowBytes(whole);
    }
    return rows;
  }

  /** SQLite's plan of the query that chooses a page (a test checks it uses the index). */
  plan(): string {
    return queryPlan(this.#db.conn, this.#ids({ queue: "q", state: "ready", before: 1, limit: 1 }));
  }

  /** The plan of a page of one group's jobs. */
  groupPlan(): string {
    const q = this.#groupIds({ queue: "q", grp: "g", state: "ready", before: 1, limit: 1 });
    return queryPlan(this.#db.conn, q);
  }
}
