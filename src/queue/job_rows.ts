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
    const key = JSON.stringify([r.queue, r.grp]);
    const seen = byKey.get(key);
    if (seen) seen[1]++;
    else byKey.set(key, [[r.queue, r.grp], 1]);
  }
  return byKey.values();
}

/** The row of a job just enqueued. */
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
    result: null,
    progress: null,
    last_error: null,
    attempts: 0,
    max_attempts: maxAttempts,
    available_at: now + job.delayMs,
    lease: null,
    lease_expires_at: null,
    worker: null,
    idempotency_key: job.idempotencyKey ?? null,
    created_at: now,
    updated_at: now,
    finished_at: null,
    unique_key: job.uniqueKey ?? null,
    expire_at: job.ttlMs === undefined ? null : now + job.delayMs + job.ttlMs,
    grp: job.group ?? noGroup,
    depends_on: job.dependsOn ? JSON.stringify(job.dependsOn) : null,
    deps_left: depsLeft,
    on_failure: job.onFailure === "ignore" ? "ignore" : null,
  };
}

/** A jobs row's values in column order, as Kysely binds a multi-row INSERT's parameters. */
export function jobParams(r: JobsTable): unknown[] {
  return [
    r.id,
    r.queue,
    r.state,
    r.priority,
    r.seq,
    r.payload,
    r.result,
    r.progress,
    r.last_error,
    r.attempts,
    r.max_attempts,
    r.available_at,
    r.lease,
    r.lease_expires_at,
    r.worker,
    r.idempotency_key,
    r.created_at,
    r.updated_at,
    r.finished_at,
    r.unique_key,
    r.expire_at,
    r.grp,
    r.depends_on,
    r.deps_left,
    r.on_failure,
  ];
}
