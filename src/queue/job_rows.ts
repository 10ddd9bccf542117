// The rows new jobs are written as, and how a run of them is grouped for one multi-row insert.

import type { JobsTable, JobState } from "../storage/schema.ts";
import type { NewJob } from "./commands.ts";
import { noGroup } from "./groups.ts";

/** New rows, and ready jobs by group, written together (see Enqueues.parts). */
export interface EnqueueRun {
  rows: JobsTable[];
  readyByGroup: Map<string, number>;
}

export const newEnqueueRun = (): EnqueueRun => ({ rows: [], readyByGroup: new Map() });

/** A job whose enqueue reads nothing back: no idempotency or unique key, no dependencies. */
export const isPlainJob = (job: NewJob): boolean =>
  job.idempotencyKey === undefined && job.uniqueKey === undefined && job.dependsOn === undefined;

/** How many of `rows` are in each queue and group, in first-seen order (the same on replicas). */
export function tallyGroups(rows: readonly { queue: string; grp: string }[]) {
  const byKey = new Map<string, [[string, string], number]>();
  for (const r of rows) {
    // (unambiguous: a queue's name holds no newline, and the group comes after it)
    const key = `${r.queue}\n${r.grp}`;
    const seen = byKey.get(key);
    if (seen) seen[1]++;
    else byKey.set(key, [[r.queue, r.grp], 1]);
  }
  return byKey.values();
}

/**
 * The row of a job just enqueued: the columns a plain row sets first, in plainRowParams' order,
 * then those it leaves NULL.
 */
export function newJobRow(
  id: string,
  queue: string,
  state: JobState,
  seq: number,
  job: NewJob,
  now: number,
  maxAttempts: number,
  depsLeft: number,
): JobsTable {
  return {
    id,
    queue,
    state,
    priority: job.priority,
    seq,
    payload: job.payload,
    attempts: 0,
    max_attempts: maxAttempts,
    available_at: now + job.delayMs,
    created_at: now,
    updated_at: now,
    grp: job.group ?? noGroup,
    deps_left: depsLeft,
    result: null,
    progress: null,
    last_error: null,
    lease: null,
    lease_expires_at: null,
    worker: null,
    idempotency_key: job.idempotencyKey ?? null,
    finished_at: null,
    unique_key: job.uniqueKey ?? null,
    expire_at: job.ttlMs === undefined ? null : now + job.delayMs + job.ttlMs,
    depends_on: job.dependsOn ? JSON.stringify(job.dependsOn) : null,
    on_failure: job.onFailure === "ignore" ? "ignore" : null,
  };
}

/** The columns a plain row (isPlainRow) is inserted with, in plainRowParams' order. */
export const plainColumns = [
  "id",
  "queue",
  "state",
  "priority",
  "seq",
  "payload",
  "attempts",
  "max_attempts",
  "available_at",
  "created_at",
  "updated_at",
  "grp",
  "deps_left",
] as const satisfies readonly (keyof JobsTable)[];

/** The columns a plain row leaves NULL, in jobParams' order after plainColumns. */
export const nullColumns = [
  "result",
  "progress",
  "last_error",
  "lease",
  "lease_expires_at",
  "worker",
  "idempotency_key",
  "finished_at",
  "unique_key",
  "expire_at",
  "depends_on",
  "on_failure",
] as const satisfies readonly (keyof JobsTable)[];

/** A column of JobsTable in neither list: a new column must be placed in one. */
type Unplaced = Exclude<keyof JobsTable, typeof plainColumns[number] | typeof nullColumns[number]>;
const _everyColumnPlaced: [Unplaced] extends [never] ? true : Unplaced = true;

/**
 * Whether a new row sets only plainColumns, every one of nullColumns NULL: most enqueued jobs.
 * Their INSERT binds 13 values a row instead of 25, and SQLite copies each bound value into the
 * row it builds (a 1,000-job entry's apply: about 4.0 µs a job instead of 4.7). This and the two
 * params functions spell the columns out: a loop over the lists costs 80–140 ns a row against 3–5
 * (tests/queue/job_rows_test.ts holds them to the lists).
 */
export function isPlainRow(r: JobsTable): boolean {
  return r.result === null && r.progress === null && r.last_error === null &&
    r.lease === null && r.lease_expires_at === null && r.worker === null &&
    r.idempotency_key === null && r.finished_at === null && r.unique_key === null &&
    r.expire_at === null && r.depends_on === null && r.on_failure === null;
}

/** A plain row's columns, for the INSERT's SQL (built once a row count). */
export function plainRowValues(r: JobsTable): Pick<JobsTable, typeof plainColumns[number]> {
  const picked: Record<string, unknown> = {};
  for (const column of plainColumns) picked[column] = r[column];
  return picked as Pick<JobsTable, typeof plainColumns[number]>;
}

/** plainColumns' values, in their order, as the plain rows' INSERT binds them. */
export function plainRowParams(r: JobsTable): unknown[] {
  return [
    r.id,
    r.queue,
    r.state,
    r.priority,
    r.seq,
    r.payload,
    r.attempts,
    r.max_attempts,
    r.available_at,
    r.created_at,
    r.updated_at,
    r.grp,
    r.deps_left,
  ];
}

/** A jobs row's values in newJobRow's column order, as the full multi-row INSERT binds them. */
export function jobParams(r: JobsTable): unknown[] {
  const values = plainRowParams(r);
  values.push(r.result, r.progress, r.last_error, r.lease, r.lease_expires_at, r.worker);
  values.push(r.idempotency_key, r.finished_at, r.unique_key, r.expire_at, r.depends_on);
  values.push(r.on_failure);
  return values;
}
