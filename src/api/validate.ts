// Validation of request bodies, path parameters and query strings, before anything is proposed.

import { RaftqError } from "../errors.ts";
import type { JsonText, NewJob } from "../queue/commands.ts";
import { RawJson } from "../queue/json_text.ts";

export const limits = {
  maxBatchJobs: 1000,
  maxClaim: 100,
  maxWaitMs: 20_000,
  maxDelayMs: 365 * 24 * 60 * 60 * 1000,
  minLeaseMs: 1_000,
  maxLeaseMs: 12 * 60 * 60 * 1000,
  maxAttempts: 1000,
  maxKeyLength: 256,
  maxWorkerLength: 256,
  maxErrorLength: 10_000,
  maxRetryDelayMs: 7 * 24 * 60 * 60 * 1000,
  maxDeadPage: 1000,
  maxWaitJobMs: 60_000,
} as const;

export const defaults = {
  maxAttempts: 5,
  leaseMs: 30_000,
  claimMax: 1,
  deadPage: 100,
  waitJobMs: 20_000,
} as const;

const queuePattern = /^[A-Za-z0-9_.-]{1,128}$/;
const jobIdPattern = /^\d{1,16}-\d{1,5}$/;

const bad = (message: string) => new RaftqError("invalid_request", message);

export function queueName(name: string): string {
  if (!queuePattern.test(name)) {
    throw bad(
      `queue name "${name.slice(0, 140)}" must be 1 to 128 characters of A-Z a-z 0-9 _ . -`,
    );
  }
  return name;
}

/** Job ids are ours ("<log index>-<position>"); anything else cannot exist. */
export function jobId(id: string): string {
  if (!jobIdPattern.test(id)) {
    throw new RaftqError("not_found", `job ${id.slice(0, 64)} does not exist`);
  }
  return id;
}

function object(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw bad(`${what} must be a JSON object`);
  }
  return body as Record<string, unknown>;
}

function onlyFields(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw bad(`${what} has an unknown field "${key.slice(0, 64)}"`);
  }
}

function int(v: unknown, name: string, min: number, max: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function text(v: unknown, name: string, maxLength: number): string {
  if (typeof v !== "string" || v.length === 0 || v.length > maxLength) {
    throw bad(`${name} must be a non-empty string of at most ${maxLength} characters`);
  }
  return v;
}

const jobFields = ["payload", "delayMs", "priority", "maxAttempts", "idempotencyKey"] as const;

/** Where users' JSON sits in each body (kept as exact text by readJson). */
export const opaquePaths = {
  job: ["payload"],
  batch: ["jobs.*.payload"],
  ack: ["result"],
  progress: ["progress"],
} as const;

/** Users' JSON, as readJson kept it; a body read without its opaque path is a server bug. */
function userJson(v: unknown, name: string): JsonText {
  if (!(v instanceof RawJson)) throw new Error(`${name} was not read as JSON text`);
  return v.text;
}

export function newJob(body: unknown, what = "the body"): NewJob {
  const o = object(body, what);
  onlyFields(o, jobFields, what);
  if (!("payload" in o)) throw bad(`${what} needs a "payload" (any JSON value)`);
  const name = (field: string) => (what === "the body" ? field : `${what}.${field}`);
  const job: NewJob = {
    payload: userJson(o.payload, name("payload")),
    delayMs: int(o.delayMs, name("delayMs"), 0, limits.maxDelayMs, 0),
    priority: int(o.priority, name("priority"), 0, 9, 0),
    maxAttempts: int(
      o.maxAttempts,
      name("maxAttempts"),
      1,
      limits.maxAttempts,
      defaults.maxAttempts,
    ),
  };
  if (o.idempotencyKey !== undefined) {
    job.idempotencyKey = text(o.idempotencyKey, name("idempotencyKey"), limits.maxKeyLength);
  }
  return job;
}

export function batch(body: unknown): NewJob[] {
  const o = object(body, "the body");
  onlyFields(o, ["jobs"], "the body");
  if (!Array.isArray(o.jobs) || o.jobs.length < 1 || o.jobs.length > limits.maxBatchJobs) {
    throw bad(`jobs must be a list of 1 to ${limits.maxBatchJobs} jobs`);
  }
  return o.jobs.map((j, k) => newJob(j, `jobs[${k}]`));
}

export interface ClaimRequest {
  worker: string;
  max: number;
  leaseMs: number;
  waitMs: number;
}

export function claim(body: unknown): ClaimRequest {
  const o = object(body, "the body");
  onlyFields(o, ["worker", "max", "leaseMs", "waitMs"], "the body");
  return {
    worker: text(o.worker, "worker", limits.maxWorkerLength),
    max: int(o.max, "max", 1, limits.maxClaim, defaults.claimMax),
    leaseMs: int(o.leaseMs, "leaseMs", limits.minLeaseMs, limits.maxLeaseMs, defaults.leaseMs),
    waitMs: int(o.waitMs, "waitMs", 0, limits.maxWaitMs, 0),
  };
}

function lease(o: Record<string, unknown>): string {
  return text(o.lease, "lease", 32);
}

export function ack(body: unknown): { lease: string; result?: JsonText } {
  const o = object(body, "the body");
  onlyFields(o, ["lease", "result"], "the body");
  const out: { lease: string; result?: JsonText } = { lease: lease(o) };
  if (o.result !== undefined) out.result = userJson(o.result, "result");
  return out;
}

export interface NackRequest {
  lease: string;
  error?: string;
  retryDelayMs?: number;
  final?: boolean;
}

export function nack(body: unknown): NackRequest {
  const o = object(body, "the body");
  onlyFields(o, ["lease", "error", "retryDelayMs", "final"], "the body");
  const out: NackRequest = { lease: lease(o) };
  if (o.final !== undefined) {
    if (typeof o.final !== "boolean") throw bad("final must be true or false");
    if (o.final) out.final = true;
  }
  if (o.error !== undefined) {
    if (typeof o.error !== "string" || o.error.length > limits.maxErrorLength) {
      throw bad(`error must be a string of at most ${limits.maxErrorLength} characters`);
    }
    out.error = o.error;
  }
  if (o.retryDelayMs !== undefined) {
    out.retryDelayMs = int(o.retryDelayMs, "retryDelayMs", 0, limits.maxRetryDelayMs);
  }
  return out;
}

export function extend(body: unknown): { lease: string; leaseMs: number } {
  const o = object(body, "the body");
  onlyFields(o, ["lease", "leaseMs"], "the body");
  return {
    lease: lease(o),
    leaseMs: int(o.leaseMs, "leaseMs", limits.minLeaseMs, limits.maxLeaseMs),
  };
}

export function release(body: unknown): { lease: string; delayMs?: number } {
  const o = object(body, "the body");
  onlyFields(o, ["lease", "delayMs"], "the body");
  const out: { lease: string; delayMs?: number } = { lease: lease(o) };
  if (o.delayMs !== undefined) out.delayMs = int(o.delayMs, "delayMs", 0, limits.maxDelayMs);
  return out;
}

export function progress(body: unknown): { lease: string; progress: JsonText } {
  const o = object(body, "the body");
  onlyFields(o, ["lease", "progress"], "the body");
  if (!("progress" in o)) throw bad(`the body needs a "progress" (any JSON value)`);
  return { lease: lease(o), progress: userJson(o.progress, "progress") };
}

/** `?timeoutMs=` of GET /v1/jobs/:id/wait. */
export function waitTimeoutMs(value: string | undefined): number {
  if (value === undefined) return defaults.waitJobMs;
  return int(/^\d{1,9}$/.test(value) ? Number(value) : NaN, "timeoutMs", 0, limits.maxWaitJobMs);
}

export function consistency(value: string | undefined): "linearizable" | "local" {
  if (value === undefined || value === "linearizable") return "linearizable";
  if (value === "local") return "local";
  throw bad(`consistency must be "linearizable" or "local"`);
}

export function deadPage(
  limit: string | undefined,
  cursor: string | undefined,
): { limit: number; before?: { finishedAt: number; id: string } } {
  const n = limit === undefined ? defaults.deadPage : Number(limit);
  const out: { limit: number; before?: { finishedAt: number; id: string } } = {
    limit: int(n, "limit", 1, limits.maxDeadPage),
  };
  if (cursor !== undefined) {
    const m = /^(\d{1,16}):(\d{1,16}-\d{1,5})$/.exec(cursor);
    if (!m) throw bad("cursor is not one this server returned");
    out.before = { finishedAt: Number(m[1]), id: m[2] };
  }
  return out;
}
