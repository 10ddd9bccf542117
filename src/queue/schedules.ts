// Schedules in the replicated state: the table's reads and writes, and the schedule's view.

import type { CompiledQuery } from "kysely";
import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";
import type { SchedulesTable } from "../storage/schema.ts";
import { RawJson } from "./json_text.ts";

/**
 * The most schedules a cluster holds: GET /v1/schedules answers them all, and the leader looks
 * at the due ones every quarter second, so their number is bounded.
 */
export const maxSchedules = 10_000;

/** What PUT /v1/schedules/:id sets (validated at the edge; the payload as JSON text). */
export interface ScheduleSpec {
  queue: string;
  cron?: string;
  tz?: string;
  everyMs?: number;
  payload: string;
  priority?: number;
  maxAttempts?: number;
  overlap: "allow" | "skip";
  catchUp: "none" | "last";
}

export interface ScheduleView extends Omit<ScheduleSpec, "payload"> {
  id: string;
  payload: RawJson;
  nextRunAt: number | null;
  lastRunAt: number | null;
  lastJobId: string | null;
  createdAt: number;
  updatedAt: number;
}

export function scheduleView(row: SchedulesTable): ScheduleView {
  const spec = JSON.parse(row.spec) as ScheduleSpec;
  return {
    id: row.id,
    ...spec,
    payload: new RawJson(spec.payload),
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_slot_ms,
    lastJobId: row.last_job_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The schedules table (a few rows per schedule, never per job). */
export class ScheduleStore {
  readonly #db: Database;
  readonly #q;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#q = {
      get: prepare(["id"], (p) => k.selectFrom("schedules").selectAll().where("id", "=", p.id)),
      page: prepare(
        ["after", "limit"],
        (p) =>
          k.selectFrom("schedules").selectAll().where("id", ">", p.after).orderBy("id")
            .limit(p.limit),
      ),
      due: prepare(
        ["now", "limit"],
        (p) =>
          k.selectFrom("schedules").selectAll().where("next_run_at", "<=", p.now)
            .orderBy("next_run_at").limit(p.limit),
      ),
      save: prepare(
        ["id", "queue", "spec", "next", "now"],
        (p) =>
          k.insertInto("schedules").values({
            id: p.id,
            queue: p.queue,
            spec: p.spec,
            next_run_at: p.next,
            last_slot_ms: null,
            last_job_id: null,
            created_at: p.now,
            updated_at: p.now,
          }).onConflict((oc) =>
            oc.column("id").doUpdateSet({
              queue: p.queue,
              spec: p.spec,
              next_run_at: p.next,
              updated_at: p.now,
            })
          ),
      ),
      fired: prepare(["id", "slot", "job", "next"], (p) =>
        k.updateTable("schedules").set({
          last_slot_ms: p.slot,
          last_job_id: p.job,
          next_run_at: p.next,
        }).where("id", "=", p.id)),
      advance: prepare(
        ["id", "next"],
        (p) => k.updateTable("schedules").set({ next_run_at: p.next }).where("id", "=", p.id),
      ),
      remove: prepare(["id"], (p) => k.deleteFrom("schedules").where("id", "=", p.id)),
      count: prepare(
        [],
        () => k.selectFrom("schedules").select((eb) => eb.fn.countAll<number>().as("n")),
      ),
    };
  }

  #rows(q: CompiledQuery): SchedulesTable[] {
    return this.#db.conn.executeCompiled<SchedulesTable>(q).rows;
  }

  get(id: string): SchedulesTable | undefined {
    return this.#rows(this.#q.get({ id }))[0];
  }

  /** Up to `limit` schedules whose ids come after `after`, by id. */
  page(after: string, limit: number): SchedulesTable[] {
    return this.#rows(this.#q.page({ after, limit }));
  }

  /** Up to `limit` schedules whose next slot has come, earliest first. */
  due(nowMs: number, limit: number): SchedulesTable[] {
    return this.#rows(this.#q.due({ now: nowMs, limit }));
  }

  count(): number {
    return Number(this.#db.conn.executeCompiled<{ n: number }>(this.#q.count({})).rows[0].n);
  }

  save(id: string, spec: ScheduleSpec, nextRunAt: number | null, nowMs: number): void {
    const args = { id, queue: spec.queue, spec: JSON.stringify(spec), next: nextRunAt, now: nowMs };
    this.#db.conn.executeCompiled(this.#q.save(args));
  }

  fired(id: string, slotMs: number, jobId: string | null, nextRunAt: number | null): void {
    this.#db.conn.executeCompiled(this.#q.fired({ id, slot: slotMs, job: jobId, next: nextRunAt }));
  }

  advance(id: string, nextRunAt: number | null): void {
    this.#db.conn.executeCompiled(this.#q.advance({ id, next: nextRunAt }));
  }

  remove(id: string): boolean {
    return this.#db.conn.executeCompiled(this.#q.remove({ id })).changes > 0;
  }
}
