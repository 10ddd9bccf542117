// A job as the API answers it: the row's columns in the API's names, users' JSON as exact text.

import type { JobsTable, JobState } from "../storage/schema.ts";
import { RawJson } from "./json_text.ts";

export interface JobView {
  id: string;
  queue: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  priority: number;
  payload: RawJson;
  result?: RawJson;
  progress?: RawJson;
  lastError?: string;
  createdAt: number;
  updatedAt: number;
  availableAt?: number;
  leaseExpiresAt?: number;
  finishedAt?: number;
  idempotencyKey?: string;
  uniqueKey?: string;
  /** When a job nobody has claimed expires (its ttlMs). */
  expiresAt?: number;
  group?: string;
  /** The jobs it waits for (or waited for). */
  dependsOn?: string[];
  /** Their results, by id, once they have them (GET /v1/jobs/:id only). */
  dependencyResults?: Record<string, RawJson>;
}

export function jobView(row: JobsTable): JobView {
  const view: JobView = {
    id: row.id,
    queue: row.queue,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    payload: new RawJson(row.payload),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.result !== null) view.result = new RawJson(row.result);
  if (row.progress !== null) view.progress = new RawJson(row.progress);
  if (row.last_error !== null) view.lastError = row.last_error;
  if (row.state === "delayed" || row.state === "ready") view.availableAt = row.available_at;
  if (row.state === "leased" && row.lease_expires_at !== null) {
    view.leaseExpiresAt = row.lease_expires_at;
  }
  if (row.finished_at !== null) view.finishedAt = row.finished_at;
  if (row.idempotency_key !== null) view.idempotencyKey = row.idempotency_key;
  if (row.unique_key !== null) view.uniqueKey = row.unique_key;
  if (row.expire_at !== null) view.expiresAt = row.expire_at;
  if (row.grp) view.group = row.grp;
  if (row.depends_on !== null) view.dependsOn = JSON.parse(row.depends_on);
  return view;
}
