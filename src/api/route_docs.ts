// Every route the app serves, with its schemas: the source of the OpenAPI document and of the
// tests that hold each answer to its schema.

import type { z } from "zod";
import * as r from "./response_schemas.ts";
import * as s from "./schemas.ts";

export interface Answer {
  description: string;
  schema?: z.ZodType;
  /** The content type, when not JSON; "none" for an answer without a body. */
  type?: string;
}

export interface RouteDoc {
  id: string;
  method: "get" | "post" | "put" | "delete";
  /** As Hono writes it: /v1/jobs/:id. */
  path: string;
  summary: string;
  description?: string;
  tag: "queue" | "jobs" | "schedules" | "admin" | "peers" | "people";
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The body may be left out. */
  optionalBody?: boolean;
  answers: Record<number, Answer>;
}

const queue = { queue: s.queueParam };
const job = { id: s.jobIdParam };
const ok = (schema: z.ZodType, description = "done") => ({ 200: { description, schema } });

const queueRoutes: RouteDoc[] = [
  {
    id: "flow",
    method: "post",
    path: "/v1/flows",
    summary: "Create a DAG of jobs atomically, in one log entry",
    description: "A job with dependencies is `waiting` until they are all `done`. A dependency " +
      'that ends dead, cancelled or expired ends its dependents dead (`onFailure: "fail"`) or ' +
      'lets them go on (`"ignore"`). A ref used twice, an unknown ref or a cycle is a 400.',
    tag: "queue",
    body: s.flow,
    answers: { 201: { description: "created", schema: r.flowCreated } },
  },
  {
    id: "enqueue",
    method: "post",
    path: "/v1/queues/:queue/jobs",
    summary: "Enqueue a job",
    tag: "queue",
    params: queue,
    body: s.newJob,
    answers: {
      201: { description: "enqueued", schema: r.enqueued },
      200: { description: "its idempotencyKey was used: the first job", schema: r.enqueued },
    },
  },
  {
    id: "enqueueBatch",
    method: "post",
    path: "/v1/queues/:queue/batch",
    summary: "Enqueue up to 1,000 jobs in one log entry, all or none",
    tag: "queue",
    params: queue,
    body: s.batch,
    answers: { 201: { description: "enqueued", schema: r.batchIds } },
  },
  {
    id: "claim",
    method: "post",
    path: "/v1/queues/:queue/claim",
    summary: "Lease ready jobs; with waitMs, wait for one (long poll)",
    tag: "queue",
    params: queue,
    body: s.claim,
    answers: ok(r.claimed, "the jobs leased (an empty list when none was ready by waitMs)"),
  },
  {
    id: "queues",
    method: "get",
    path: "/v1/queues",
    summary: "Jobs per queue and state, by name, a page at a time",
    tag: "queue",
    query: s.queuesQuery,
    answers: ok(r.queueStats, "the counts"),
  },
  {
    id: "getQueue",
    method: "get",
    path: "/v1/queues/:queue",
    summary: "A queue: its counts by state, whether it is paused, its config",
    tag: "queue",
    params: queue,
    query: s.consistencyQuery,
    answers: ok(r.queueView, "the queue"),
  },
  {
    id: "configureQueue",
    method: "put",
    path: "/v1/queues/:queue/config",
    summary: "Set a queue's config: defaults for jobs that do not say otherwise, and a depth limit",
    description: "Replaces the whole config: a field left out goes back to its default. " +
      "An enqueue past maxDepth answers 429 queue_full with Retry-After.",
    tag: "queue",
    params: queue,
    body: s.queueConfig,
    answers: ok(r.queueConfig, "the whole config"),
  },
  {
    id: "pause",
    method: "post",
    path: "/v1/queues/:queue/pause",
    summary: "Pause a queue: it takes enqueues and hands out no jobs",
    tag: "queue",
    params: queue,
    answers: ok(r.queueView, "paused"),
  },
  {
    id: "resume",
    method: "post",
    path: "/v1/queues/:queue/resume",
    summary: "Resume a paused queue",
    tag: "queue",
    params: queue,
    answers: ok(r.queueView, "resumed"),
  },
  {
    id: "listJobs",
    method: "get",
    path: "/v1/queues/:queue/jobs",
    summary: "A page of the queue's jobs, newest first, in one state or any",
    tag: "queue",
    params: queue,
    query: s.listQuery,
    answers: ok(r.jobPage, "a page; pass `next` as `cursor` for the next one"),
  },
  {
    id: "listGroups",
    method: "get",
    path: "/v1/queues/:queue/groups",
    summary: "The queue's groups with ready or leased jobs, by name",
    tag: "queue",
    params: queue,
    query: s.groupsQuery,
    answers: ok(r.groupPage, "a page; pass `next` as `cursor` for the next one"),
  },
  {
    id: "events",
    method: "get",
    path: "/v1/queues/:queue/events",
    summary: "Every job transition of the queue, as Server-Sent Events, in log order",
    description: "Each event's id is `INDEX:K` (the entry's log index, the event's place in it); " +
      "data is `{type, index, queue, jobId, state, attempt, group?, error?, at}`. Resume with " +
      "`Last-Event-ID` (or `?from=INDEX`) without gaps or repeats while the events are kept; an " +
      "event `lost` says when some are not. Any node serves it from its own applied log.",
    tag: "queue",
    params: queue,
    query: s.eventsQuery,
    answers: { 200: { description: "the event stream", type: "text/event-stream" } },
  },
  {
    id: "purgeJobs",
    method: "delete",
    path: "/v1/queues/:queue/jobs",
    summary: "Remove the queue's jobs in a finished state (done, dead, cancelled or expired)",
    description: "Done in log entries of at most 1,000 jobs each, until none is left.",
    tag: "queue",
    params: queue,
    query: s.purgeQuery,
    answers: ok(r.purged, "how many were removed"),
  },
  {
    id: "retryDeadMany",
    method: "post",
    path: "/v1/queues/:queue/dead/retry",
    summary: "Move dead letters back to ready, oldest first",
    description: "Done in log entries of at most 1,000 jobs each.",
    tag: "queue",
    params: queue,
    body: s.retryDeadMany,
    optionalBody: true,
    answers: ok(r.retriedMany, "how many went back"),
  },
  {
    id: "deadLetters",
    method: "get",
    path: "/v1/queues/:queue/dead",
    summary: "Dead letters, newest first, paginated",
    tag: "queue",
    params: queue,
    query: s.deadQuery,
    answers: ok(r.deadPage, "a page"),
  },
  {
    id: "retryDead",
    method: "post",
    path: "/v1/queues/:queue/dead/:id/retry",
    summary: "Move a dead job back to ready",
    tag: "queue",
    params: { ...queue, ...job },
    answers: ok(r.jobState),
  },
];

/** The commands a worker sends with a job's lease. */
const leaseRoute = (
  id: string,
  summary: string,
  body: z.ZodType,
  answer: z.ZodType,
): RouteDoc => ({
  id,
  method: "post",
  path: `/v1/jobs/:id/${id}`,
  summary,
  tag: "jobs",
  params: job,
  body,
  answers: ok(answer),
  description: "409 lease_mismatch when the lease is no longer the job's; 409 cancelled when " +
    "the job was cancelled while leased.",
});

const jobRoutes: RouteDoc[] = [
  leaseRoute(
    "ack",
    "Complete a job (a retry with the same lease answers the same); with next, claim more",
    s.ack,
    r.acked,
  ),
  leaseRoute(
    "nack",
    "Fail a job: retried with backoff, dead after maxAttempts or when final",
    s.nack,
    r.jobState,
  ),
  leaseRoute("extend", "Extend a job's lease", s.extend, r.extended),
  leaseRoute("release", "Give a job back without using an attempt", s.release, r.jobState),
  leaseRoute("progress", "Record a job's progress", s.progress, r.jobOnly),
  {
    id: "getJob",
    method: "get",
    path: "/v1/jobs/:id",
    summary: "A job",
    tag: "jobs",
    params: job,
    query: s.consistencyQuery,
    answers: ok(r.job, "the job"),
  },
  {
    id: "waitJob",
    method: "get",
    path: "/v1/jobs/:id/wait",
    summary:
      "Wait until a job is done, dead, cancelled or expired (or the timeout), then answer it",
    tag: "jobs",
    params: job,
    query: s.waitQuery,
    answers: ok(r.job, "the job"),
  },
  {
    id: "cancel",
    method: "delete",
    path: "/v1/jobs/:id",
    summary: "Cancel a job that is not done",
    tag: "jobs",
    params: job,
    answers: ok(r.jobState),
  },
];

const scheduleId = { id: s.scheduleIdParam };
const scheduleRoutes: RouteDoc[] = [
  {
    id: "setSchedule",
    method: "put",
    path: "/v1/schedules/:id",
    summary: "Create or replace a schedule (cron with a time zone, or an interval)",
    description: "Each slot fires exactly once, across leader changes: the leader proposes the " +
      "firing and the job carries the idempotency key schedule:<id>:<slotMs>.",
    tag: "schedules",
    params: scheduleId,
    body: s.schedule,
    answers: ok(r.schedule, "the schedule, with nextRunAt"),
  },
  {
    id: "schedules",
    method: "get",
    path: "/v1/schedules",
    summary: "The schedules, by id, a page at a time",
    tag: "schedules",
    query: s.schedulesQuery,
    answers: ok(r.schedules, "the schedules"),
  },
  {
    id: "getSchedule",
    method: "get",
    path: "/v1/schedules/:id",
    summary: "A schedule",
    tag: "schedules",
    params: scheduleId,
    query: s.consistencyQuery,
    answers: ok(r.schedule, "the schedule"),
  },
  {
    id: "deleteSchedule",
    method: "delete",
    path: "/v1/schedules/:id",
    summary: "Delete a schedule (jobs it enqueued stay)",
    tag: "schedules",
    params: scheduleId,
    answers: ok(r.scheduleDeleted, "deleted"),
  },
];

const adminRoutes: RouteDoc[] = [
  {
    id: "health",
    method: "get",
    path: "/healthz",
    summary: "200 while the process serves",
    tag: "admin",
    answers: ok(r.health, "serving"),
  },
  {
    id: "ready",
    method: "get",
    path: "/readyz",
    summary: "200 when a member that knows a leader, else 503",
    tag: "admin",
    answers: {
      200: { description: "ready", schema: r.ready },
      503: { description: "not ready", schema: r.ready },
    },
  },
  {
    id: "status",
    method: "get",
    path: "/admin/status",
    summary: "This node's view of the cluster",
    tag: "admin",
    answers: ok(r.status, "the status"),
  },
  {
    id: "backup",
    method: "get",
    path: "/admin/backup",
    summary: "A consistent image of the queue, streamed while writes go on (leader only)",
    tag: "admin",
    answers: { 200: { description: "the backup file", type: "application/octet-stream" } },
  },
  {
    id: "snapshot",
    method: "post",
    path: "/admin/snapshot",
    summary: "Take a snapshot and compact the log now",
    tag: "admin",
    answers: ok(r.snapshotTaken),
  },
  {
    id: "members",
    method: "get",
    path: "/admin/members",
    summary: "The members",
    tag: "admin",
    answers: ok(r.members, "the members"),
  },
  {
    id: "addMember",
    method: "post",
    path: "/admin/members",
    summary: "Add a node: a learner first, a voter once caught up",
    tag: "admin",
    body: s.newMember,
    answers: ok(r.memberAdded, "a voter now"),
  },
  {
    id: "removeMember",
    method: "delete",
    path: "/admin/members/:id",
    summary: "Remove a node (the leader hands over first when it removes itself)",
    tag: "admin",
    params: { id: s.nodeIdParam },
    answers: ok(r.memberRemoved, "removed"),
  },
  {
    id: "transfer",
    method: "post",
    path: "/admin/transfer",
    summary: "Move leadership (to a node, or to any up-to-date voter)",
    tag: "admin",
    body: s.transfer,
    optionalBody: true,
    answers: ok(r.transferred, "the new leader"),
  },
  {
    id: "metrics",
    method: "get",
    path: "/metrics",
    summary: "Prometheus text",
    tag: "admin",
    answers: { 200: { description: "metrics", type: "text/plain" } },
  },
  {
    id: "openapi",
    method: "get",
    path: "/openapi.json",
    summary: "This document",
    tag: "admin",
    answers: ok(r.openApi, "the OpenAPI 3.1 document"),
  },
  {
    id: "statusPage",
    method: "get",
    path: "/",
    summary: "The status page, for people",
    tag: "people",
    answers: { 200: { description: "a page", type: "text/html" } },
  },
];

/** The peer link's handshake: members only (see the README's peer protocol). */
const peerRoutes: RouteDoc[] = [
  {
    id: "peerChallenge",
    method: "get",
    path: "/raft/challenge",
    summary: "Peers only: a challenge for the cluster-secret handshake",
    tag: "peers",
    answers: ok(r.peerFrame, "a challenge"),
  },
  {
    id: "peerHello",
    method: "post",
    path: "/raft/hello",
    summary: "Peers only: the answer to a challenge; a ticket for the link",
    tag: "peers",
    body: r.peerFrame,
    answers: ok(r.peerFrame, "a welcome and a ticket"),
  },
  {
    id: "peerLink",
    method: "get",
    path: "/raft",
    summary: "Peers only: the WebSocket link, with a ticket",
    tag: "peers",
    answers: { 101: { description: "switching to the WebSocket", type: "none" } },
  },
];

export const routeDocs: RouteDoc[] = [
  ...queueRoutes,
  ...jobRoutes,
  ...scheduleRoutes,
  ...adminRoutes,
  ...peerRoutes,
];
