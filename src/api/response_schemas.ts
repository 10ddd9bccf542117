// The answers' schemas (zod), for the OpenAPI document and the tests that hold answers to them.

import { z } from "zod";
import { queueConfigSchema } from "../queue/queue_config.ts";
import { jobStates } from "../storage/schema.ts";

export const queueConfig = queueConfigSchema;

/** Users' JSON as answered (payload, result, progress): any JSON value. */
const anyJson = z.unknown().meta({ description: "any JSON value, exactly as it was sent" });

export const jobStateEnum = z.enum(jobStates);

export const errorBody = z.strictObject({
  error: z.strictObject({
    code: z.string().meta({
      description:
        "invalid_request, unauthorized, not_found, lease_mismatch, conflict, cancelled, payload_too_large, no_leader, outcome_unknown, unavailable, too_many_connections, request_timeout, peer_refused",
    }),
    message: z.string(),
  }),
});

export const enqueued = z.strictObject({
  id: z.string(),
  queue: z.string(),
  state: jobStateEnum,
  deduplicated: z.literal(true).optional(),
});

export const batchIds = z.strictObject({ ids: z.array(z.string()) });

export const claimed = z.strictObject({
  jobs: z.array(z.strictObject({
    id: z.string(),
    payload: anyJson,
    attempt: z.int(),
    lease: z.string(),
    leaseExpiresAt: z.int(),
  })),
});

export const jobState = z.strictObject({ id: z.string(), state: jobStateEnum });
/** An ack's answer; `jobs` (as a claim's) when it asked for its `next` jobs. */
export const acked = jobState.extend({
  jobs: claimed.shape.jobs.optional().meta({ description: "what the ack's next claim leased" }),
});
export const extended = z.strictObject({ id: z.string(), leaseExpiresAt: z.int() });
export const jobOnly = z.strictObject({ id: z.string() });

export const job = z.strictObject({
  id: z.string(),
  queue: z.string(),
  state: jobStateEnum,
  attempts: z.int(),
  maxAttempts: z.int(),
  priority: z.int(),
  payload: anyJson,
  result: anyJson.optional(),
  progress: anyJson.optional(),
  lastError: z.string().optional(),
  createdAt: z.int(),
  updatedAt: z.int(),
  availableAt: z.int().optional(),
  leaseExpiresAt: z.int().optional(),
  finishedAt: z.int().optional(),
  idempotencyKey: z.string().optional().meta({
    description: "a schedule's jobs carry schedule:<id>:<slotMs>",
  }),
  uniqueKey: z.string().optional(),
  expiresAt: z.int().optional(),
  group: z.string().optional().meta({ description: "its fairness group" }),
  dependsOn: z.array(z.string()).optional().meta({ description: "the jobs it waits for" }),
  dependencyResults: z.record(z.string(), anyJson).optional().meta({
    description: "GET /v1/jobs/:id: the results of its dependencies, by id",
  }),
});

export const flowCreated = z.strictObject({
  ids: z.record(z.string(), z.string()).meta({ description: "each job's id, by its ref" }),
});

const queueCounts = {
  name: z.string(),
  paused: z.boolean().meta({ description: "claims hand out nothing while paused" }),
  ready: z.int(),
  delayed: z.int(),
  leased: z.int(),
  done: z.int(),
  dead: z.int(),
  cancelled: z.int(),
  expired: z.int(),
  waiting: z.int().meta({ description: "jobs waiting for their dependencies" }),
};

export const queueStats = z.strictObject({
  queues: z.array(z.strictObject(queueCounts)),
  next: z.string().nullable().meta({ description: "the last name shown when more follow" }),
});

export const queueView = z.strictObject({
  ...queueCounts,
  config: queueConfigSchema.meta({
    description: "the defaults of the queue's jobs (see PUT /v1/queues/:queue/config)",
  }),
});

export const deadPage = z.strictObject({ jobs: z.array(job), next: z.string().nullable() });
export const jobPage = deadPage;
export const groupPage = z.strictObject({
  groups: z.array(z.strictObject({ group: z.string(), ready: z.int(), leased: z.int() })),
  next: z.string().nullable(),
});
export const purged = z.strictObject({ purged: z.int() });
export const retriedMany = z.strictObject({ retried: z.int() });

export const schedule = z.strictObject({
  id: z.string(),
  queue: z.string(),
  cron: z.string().optional(),
  tz: z.string().optional(),
  everyMs: z.int().optional(),
  payload: anyJson,
  priority: z.int().optional(),
  maxAttempts: z.int().optional(),
  overlap: z.enum(["allow", "skip"]),
  catchUp: z.enum(["none", "last"]),
  nextRunAt: z.int().nullable().meta({ description: "the next slot (ms since the epoch)" }),
  lastRunAt: z.int().nullable().meta({ description: "the last slot that fired" }),
  lastJobId: z.string().nullable(),
  createdAt: z.int(),
  updatedAt: z.int(),
});
export const schedules = z.strictObject({
  schedules: z.array(schedule),
  next: z.string().nullable().meta({ description: "the last id shown when more follow" }),
});
export const scheduleDeleted = z.strictObject({ id: z.string(), deleted: z.literal(true) });

export const health = z.strictObject({ status: z.literal("ok") });
export const ready = z.strictObject({
  status: z.enum(["ready", "not_ready"]),
  leader: z.string().nullable(),
});

const member = z.looseObject({ id: z.string(), url: z.string(), voter: z.boolean() });

export const status = z.looseObject({
  id: z.string(),
  clusterId: z.string().nullable(),
  role: z.string(),
  term: z.int(),
  leader: z.object({ id: z.string(), url: z.string().nullable() }).nullable(),
  commitIndex: z.int(),
  appliedIndex: z.int(),
  lastLogIndex: z.int(),
  snapshotIndex: z.int().meta({ description: "where the log starts: its last compaction" }),
  imageIndex: z.int().nullable().meta({
    description: "the index of the image a follower behind the log is sent; null when none is kept",
  }),
  timing: z.object({ heartbeatMs: z.int(), electionMs: z.int() }).meta({
    description: "--heartbeat-ms and --election-ms in force",
  }),
  eventLoop: z.object({ delayMaxMs: z.int() }).meta({
    description:
      "the longest a tick fired late in the last minute: how long this node's event loop was held",
  }),
  members: z.array(member),
});

export const members = z.strictObject({ members: z.array(member) });
export const memberAdded = z.looseObject({ id: z.string(), url: z.string(), voter: z.boolean() });
export const memberRemoved = z.looseObject({ removed: z.string() });
export const transferred = z.strictObject({ leader: z.string() });
export const snapshotTaken = z.strictObject({ snapshotIndex: z.int(), appliedIndex: z.int() });
/** The peer handshake's own shapes are the transport's (src/transport/handshake.ts). */
export const peerFrame = z.looseObject({});
export const openApi = z.looseObject({ openapi: z.string() });
