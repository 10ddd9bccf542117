// Validation of request bodies, path parameters and query strings with the schemas, before
// anything is proposed: the first problem becomes a 400 that names the field and the limit.

import type { z } from "zod";
import { RaftqError } from "../errors.ts";
import { maxDependencies, type NewJob } from "../queue/commands.ts";
import * as s from "./schemas.ts";
import type { EventPosition } from "../queue/events.ts";
import type { ScheduleSpec } from "../queue/schedules.ts";
import { cronProblem } from "../queue/schedule_slots.ts";
import { plainBatch, plainJob } from "./plain_jobs.ts";

export { defaults, limits } from "./schemas.ts";

const bad = (message: string) => new RaftqError("invalid_request", message);

/** A path as people write it: jobs[1].priority; the root is `what` ("the body"). */
function fieldName(path: readonly PropertyKey[], what: string): string {
  if (path.length === 0) return what;
  return path.map((p, k) =>
    typeof p === "number" ? `[${p}]` : k === 0 ? String(p) : `.${String(p)}`
  ).join("");
}

/**
 * The issue to report: the first, unless its object also has unknown fields, which come first
 * (a misspelt field explains the rest).
 */
function firstIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  const first = issues[0];
  const encloses = (i: z.core.$ZodIssue) =>
    i.path.length <= first.path.length && i.path.every((p, k) => first.path[k] === p);
  return issues.find((i) => i.code === "unrecognized_keys" && encloses(i)) ?? first;
}

function message(issue: z.core.$ZodIssue, what: string): string {
  if (issue.code === "unrecognized_keys") {
    return `${fieldName(issue.path, what)} has an unknown field "${issue.keys[0].slice(0, 64)}"`;
  }
  if (issue.message === s.needsValue) {
    const field = String(issue.path.at(-1));
    return `${fieldName(issue.path.slice(0, -1), what)} needs a "${field}" (any JSON value)`;
  }
  if (issue.message.startsWith("!")) return issue.message.slice(1);
  return `${fieldName(issue.path, what)} ${issue.message}`;
}

/** `value` as `schema` makes it, or a 400 naming the first problem. */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = "the body",
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw bad(message(firstIssue(r.error.issues), what));
}

export function queueName(name: string): string {
  if (!s.queueParam.safeParse(name).success) {
    throw bad(
      `queue name "${name.slice(0, 140)}" must be 1 to 128 characters of A-Z a-z 0-9 _ . -`,
    );
  }
  return name;
}

/** Job ids are ours ("<log index>-<position>"); anything else cannot exist. */
export function jobId(id: string): string {
  if (!s.jobIdParam.safeParse(id).success) {
    throw new RaftqError("not_found", `job ${id.slice(0, 64)} does not exist`);
  }
  return id;
}

/** Where users' JSON sits in each body (kept as exact text by readJson). */
export const opaquePaths = {
  job: ["payload"],
  batch: ["jobs.*.payload"],
  ack: ["result"],
  progress: ["progress"],
  schedule: ["payload"],
} as const;

export const newJob = (body: unknown): NewJob => plainJob(body) ?? parse(s.newJob, body);
export const batch = (body: unknown): NewJob[] =>
  plainBatch(body) ?? withinDependencies(parse(s.batch, body).jobs, (j) => j.dependsOn);

/**
 * A request names at most maxDependencies dependencies in all: each is a row written and an edge
 * settled in one entry (the body limit alone would let a batch name about 90,000).
 */
export function withinDependencies<T>(jobs: T[], deps: (job: T) => unknown[] | undefined): T[] {
  const n = jobs.reduce((sum, j) => sum + (deps(j)?.length ?? 0), 0);
  if (n > maxDependencies) {
    throw bad(`the jobs name ${n} dependencies in all; at most ${maxDependencies} a request`);
  }
  return jobs;
}
export const claim = (body: unknown) => parse(s.claim, body);
export const ack = (body: unknown) => parse(s.ack, body);
export const nack = (body: unknown) => {
  const r = parse(s.nack, body);
  if (r.final === false) delete r.final;
  return r;
};
export const extend = (body: unknown) => parse(s.extend, body);

/** A schedule's body: one of cron (tz only with it) and everyMs, a cron croner can evaluate. */
export function schedule(body: unknown): ScheduleSpec {
  const r = parse(s.schedule, body);
  if ((r.cron === undefined) === (r.everyMs === undefined)) {
    throw bad("a schedule needs cron or everyMs (one of them)");
  }
  if (r.tz !== undefined && r.cron === undefined) throw bad("tz goes with cron only");
  const problem = r.cron === undefined ? null : cronProblem(r.cron, r.tz);
  if (problem) throw bad(problem);
  return { ...r, payload: r.payload ?? "null" };
}

export function scheduleId(id: string): string {
  if (!s.scheduleIdParam.safeParse(id).success) {
    throw bad(
      `schedule id "${id.slice(0, 140)}" must be 1 to 128 characters of A-Z a-z 0-9 _ . : -`,
    );
  }
  return id;
}
export const queueConfig = (body: unknown) => parse(s.queueConfig, body);
export const release = (body: unknown) => parse(s.release, body);
export const progress = (body: unknown) => parse(s.progress, body);

export type ClaimRequest = z.output<typeof s.claim>;

export function consistency(value: string | undefined): "linearizable" | "local" {
  return parse(s.consistencyQuery, { consistency: value }).consistency ?? "linearizable";
}

/** `?timeoutMs=` of GET /v1/jobs/:id/wait. */
export function waitTimeoutMs(value: string | undefined): number {
  return parse(s.waitQuery, { timeoutMs: value }).timeoutMs ?? s.defaults.waitJobMs;
}

export function listPage(query: Record<string, string | undefined>) {
  const q = parse(s.listQuery, query);
  return {
    state: q.state,
    group: q.group,
    limit: q.limit ?? s.defaults.deadPage,
    cursor: q.cursor === undefined ? undefined : Number(q.cursor),
  };
}

type Query = Record<string, string | undefined>;

/** A page by name or id: the rows after `cursor`, `limit` of them or `defaultLimit`. */
function keyPage(
  schema: z.ZodType<{ limit?: number; cursor?: string }>,
  query: Query,
  defaultLimit: number,
): { limit: number; after: string } {
  const q = parse(schema, query);
  return { limit: q.limit ?? defaultLimit, after: q.cursor ?? "" };
}

export const queuesPage = (query: Query) => keyPage(s.queuesQuery, query, s.defaults.queuesPage);
export const schedulesPage = (query: Query) =>
  keyPage(s.schedulesQuery, query, s.defaults.schedulesPage);
export const groupPage = (query: Query) => keyPage(s.groupsQuery, query, s.defaults.deadPage);

/**
 * Where an event stream starts: after the event named by Last-Event-ID (`INDEX:K`, or `INDEX`
 * for after that whole entry), else at entry `from`, else after what this node has applied.
 */
export function eventStart(
  from: string | undefined,
  lastEventId: string | undefined,
  appliedIndex: number,
): EventPosition {
  if (lastEventId) {
    const m = /^(\d{1,16})(?::(\d{1,7}))?$/.exec(lastEventId.trim());
    if (!m) throw bad("!Last-Event-ID is not an event id this server sent (INDEX or INDEX:K)");
    return { index: Number(m[1]), k: m[2] === undefined ? Infinity : Number(m[2]) };
  }
  if (from !== undefined) {
    const index = parse(s.eventsQuery, { from }).from!;
    return { index: index - 1, k: Infinity };
  }
  return { index: appliedIndex, k: Infinity };
}

export const purgeState = (state: string | undefined) => parse(s.purgeQuery, { state }).state;

export const retryDeadMany = (body: unknown) =>
  body === undefined ? {} : parse(s.retryDeadMany, body);

export function deadPage(
  limit: string | undefined,
  cursor: string | undefined,
): { limit: number; before?: { finishedAt: number; id: string } } {
  const q = parse(s.deadQuery, { limit, cursor });
  const out: { limit: number; before?: { finishedAt: number; id: string } } = {
    limit: q.limit ?? s.defaults.deadPage,
  };
  if (q.cursor !== undefined) {
    const [finishedAt, id] = q.cursor.split(":");
    out.before = { finishedAt: Number(finishedAt), id };
  }
  return out;
}
