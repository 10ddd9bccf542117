// Pages of a queue's jobs, newest first, by state or across states: index-backed, stable cursors.

import type { Database } from "../storage/database.ts";
import { prepare, queryPlan } from "../storage/prepared.ts";
import { type JobsTable, type JobState, jobStates } from "../storage/schema.ts";
import { type JobView, jobView } from "./job_view.ts";

/** Below every seq: a first page. */
const noCursor = Number.MAX_SAFE_INTEGER;

export interface JobPage {
  jobs: JobView[];
  /** The cursor of the next page (the last job's seq), or null on the last page. */
  next: string | null;
}

/**
 * A page is read from the jobs_list index (queue, state, seq): one range per state, each at
 * most `limit + 1` rows, merged by seq. Newest first is enqueue order (seq), which never changes,
 * so a cursor stays valid while jobs move between states.
 */
export class JobListing {
  readonly #db: Database;
  readonly #page;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#page = prepare(
      ["queue", "state", "before", "limit"],
      (p) =>
        k.selectFrom("jobs").selectAll().where("queue", "=", p.queue).where("state", "=", p.state)
          .where("seq", "<", p.before).orderBy("seq", "desc").limit(p.limit),
    );
  }

  page(queue: string, state: JobState | undefined, limit: number, cursor?: number): JobPage {
    const before = cursor ?? noCursor;
    const rows: JobsTable[] = [];
    for (const s of state ? [state] : jobStates) {
      const q = this.#page({ queue, state: s, before, limit: limit + 1 });
      rows.push(...this.#db.conn.executeCompiled<JobsTable>(q).rows);
    }
    rows.sort((a, b) => b.seq - a.seq);
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return { jobs: page.map(jobView), next: more ? String(page[page.length - 1].seq) : null };
  }

  /** SQLite's plan of the page query (a test checks it uses the index). */
  plan(): string {
    return queryPlan(
      this.#db.conn,
      this.#page({ queue: "q", state: "ready", before: 1, limit: 1 }),
    );
  }
}
