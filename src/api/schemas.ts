// The request schemas (zod): what routes accept, the messages they refuse with, the OpenAPI text.

import { z } from "zod";
import { RawJson } from "../queue/json_text.ts";
import { finishedStates, maxFlowJobs } from "../queue/commands.ts";
import { jobStates } from "../storage/schema.ts";

export { queueConfigSchema as queueConfig } from "../queue/queue_config.ts";

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
  maxListPage: 1000,
  maxGroupLength: 128,
} as const;

export const defaults = {
  maxAttempts: 5,
  leaseMs: 30_000,
  claimMax: 1,
  deadPage: 100,
  queuesPage: 1000,
  schedulesPage: 1000,
  waitJobMs: 20_000,
} as const;

/**
 * Messages name their field: the validator puts the field's path in front ("jobs[1].priority
 * must be ..."). One that starts with "!" is the whole message.
 */
const says = (message: string) => ({ error: message });

/** Marks a missing user-JSON field: "<object> needs a "<field>" (any JSON value)". */
export const needsValue = "needs a value";

export const queuePattern = /^[A-Za-z0-9_.-]{1,128}$/;
export const jobIdPattern = /^\d{1,16}-\d{1,5}$/;
export const nodeIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;

function int(min: number, max: number) {
  const m = says(`must be an integer from ${min} to ${max}`);
  return z.int(m).min(min, m).max(max, m);
}

function text(maxLength: number) {
  const m = says(`must be a non-empty string of at most ${maxLength} characters`);
  return z.string(m).min(1, m).max(maxLength, m);
}

/** Users' JSON, kept as its exact text by the body reader (see RawJson); any JSON value. */
const userJson = (description: string) =>
  z.custom<RawJson>((v) => v instanceof RawJson, says(needsValue))
    .transform((v) => v.text)
    .meta({ description: `${description}: any JSON value, stored and returned byte for byte` });

const object = <T extends z.core.$ZodLooseShape>(shape: T, message = "must be a JSON object") =>
  z.strictObject(shape, says(message));

const dependsOnMessage = says(`must be a list of 1 to ${maxFlowJobs} job ids`);
const onFailure = z.enum(["fail", "ignore"], says('must be "fail" or "ignore"'));

const lease = text(32).meta({ description: "the lease the claim answered (a fencing token)" });

export const newJob = object({
  payload: userJson("the job's payload"),
  delayMs: int(0, limits.maxDelayMs).default(0),
  priority: int(0, 9).default(0).meta({ description: "0..9, higher first" }),
  maxAttempts: int(1, limits.maxAttempts).optional().meta({
    description: "default: the queue's config, else 5",
  }),
  idempotencyKey: text(limits.maxKeyLength).optional().meta({
    description: "the same key on the same queue within its window answers the first job",
  }),
  idempotencyWindowMs: int(1_000, 30 * 24 * 60 * 60 * 1000).optional().meta({
    description: "how long idempotencyKey deduplicates; default 24 h",
  }),
  uniqueKey: text(limits.maxKeyLength).optional().meta({
    description: "at most one unfinished job per queue and key: while one exists, its answer",
  }),
  ttlMs: int(1, limits.maxDelayMs).optional().meta({
    description: "not claimed within this long of becoming available: the job expires",
  }),
  group: text(limits.maxGroupLength).optional().meta({
    description: "its fairness group: claims take turns between a queue's groups",
  }),
  dependsOn: z.array(
    z.string(says("must be job ids")).regex(jobIdPattern, says("must be job ids")),
    dependsOnMessage,
  ).min(1, dependsOnMessage).max(maxFlowJobs, dependsOnMessage).optional().meta({
    description: "jobs it waits for: it is `waiting` until they are all done",
  }),
  onFailure: onFailure.optional().meta({
    description: "a dependency that ends dead, cancelled or expired: fail (the default) ends " +
      "this job dead, ignore goes on",
  }),
});

const refMessage = says("must be a non-empty string of at most 128 characters");
const ref = z.string(refMessage).min(1, refMessage).max(128, refMessage);
const refsMessage = says(`must be a list of at most ${maxFlowJobs} refs of this flow's jobs`);
/** A queue named in a body (the path's are checked by validate.ts's queueName). */
const queueField = z.string(says("must be a queue name")).regex(
  queuePattern,
  says("must be 1 to 128 characters of A-Z a-z 0-9 _ . -"),
);

const flowJobsMessage = says(`must be a list of 1 to ${maxFlowJobs} jobs`);

/** POST /v1/flows: jobs by ref, each with its queue and the refs it waits for. */
export const flow = object({
  jobs: z.array(
    newJob.omit({ dependsOn: true }).extend({
      ref: ref.meta({ description: "the job's name within the flow" }),
      queue: queueField,
      dependsOn: z.array(ref, refsMessage).max(maxFlowJobs, refsMessage).optional()
        .meta({ description: "refs of jobs of this flow it waits for" }),
    }),
    flowJobsMessage,
  ).min(1, flowJobsMessage).max(maxFlowJobs, flowJobsMessage),
  onFailure: onFailure.default("fail").meta({ description: "for every job that does not say" }),
});

const jobsMessage = says(`must be a list of 1 to ${limits.maxBatchJobs} jobs`);
export const batch = object({
  jobs: z.array(newJob, jobsMessage).min(1, jobsMessage).max(limits.maxBatchJobs, jobsMessage),
});

export const claim = object({
  worker: text(limits.maxWorkerLength),
  max: int(1, limits.maxClaim).default(defaults.claimMax),
  leaseMs: int(limits.minLeaseMs, limits.maxLeaseMs).optional().meta({
    description: "default: the queue's config, else 30 s",
  }),
  waitMs: int(0, limits.maxWaitMs).default(0).meta({ description: "long poll" }),
});

export const ack = object({
  lease,
  result: userJson("the job's result").optional(),
  next: claim.omit({ waitMs: true }).extend({ queue: queueField }).optional().meta({
    description: "a claim made in the same log entry once the ack succeeds: the worker's next " +
      "jobs come back with the answer (no long poll: an empty list when none is ready)",
  }),
});

const errorText = says(`must be a string of at most ${limits.maxErrorLength} characters`);
export const nack = object({
  lease,
  error: z.string(errorText).max(limits.maxErrorLength, errorText).optional(),
  retryDelayMs: int(0, limits.maxRetryDelayMs).optional(),
  final: z.boolean(says("must be true or false")).optional().meta({
    description: "dead at once, whatever the attempts left",
  }),
});

export const extend = object({ lease, leaseMs: int(limits.minLeaseMs, limits.maxLeaseMs) });

export const release = object({ lease, delayMs: int(0, limits.maxDelayMs).optional() });

export const progress = object({ lease, progress: userJson("the job's progress") });

/** A query number: digits only, then the integer range. */
const queryInt = (min: number, max: number) =>
  z.string(says(`must be an integer from ${min} to ${max}`))
    .regex(/^\d{1,16}$/, says(`must be an integer from ${min} to ${max}`))
    .transform(Number)
    .pipe(int(min, max));

export const consistencyQuery = z.object({
  consistency: z.enum(["linearizable", "local"], says('must be "linearizable" or "local"'))
    .optional().meta({ description: "local: answered at once from this node's state" }),
});

export const deadQuery = z.object({
  limit: queryInt(1, limits.maxDeadPage).optional(),
  cursor: z.string().regex(
    /^(\d{1,16}):(\d{1,16}-\d{1,5})$/,
    says("!cursor is not one this server returned"),
  )
    .optional().meta({ description: "`next` of the previous page" }),
}).extend(consistencyQuery.shape);

export const waitQuery = z.object({
  timeoutMs: queryInt(0, limits.maxWaitJobMs).optional(),
}).extend(consistencyQuery.shape);

const stateNames = jobStates;

export const listQuery = z.object({
  state: z.enum(stateNames, says(`must be one of ${stateNames.join(", ")}`)).optional(),
  group: text(limits.maxGroupLength).optional().meta({ description: "only this group's jobs" }),
  limit: queryInt(1, limits.maxListPage).optional().meta({ description: "default 100" }),
  cursor: z.string().regex(/^\d{1,18}$/, says("!cursor is not one this server returned"))
    .optional().meta({ description: "`next` of the previous page" }),
}).extend(consistencyQuery.shape);

export const queuesQuery = z.object({
  limit: queryInt(1, limits.maxListPage).optional().meta({ description: "default 1,000" }),
  cursor: z.string().regex(queuePattern, says("!cursor is not one this server returned"))
    .optional().meta({ description: "`next` of the previous page" }),
}).extend(consistencyQuery.shape);

export const groupsQuery = z.object({
  limit: queryInt(1, limits.maxListPage).optional().meta({ description: "default 100" }),
  cursor: text(limits.maxGroupLength).optional().meta({
    description: "`next` of the previous page",
  }),
}).extend(consistencyQuery.shape);

export const eventsQuery = z.object({
  from: queryInt(0, Number.MAX_SAFE_INTEGER).optional().meta({
    description: "the log index to start at (0: the oldest kept); Last-Event-ID wins",
  }),
});

const finished = finishedStates;
export const purgeQuery = z.object({
  state: z.enum(finished, says(`must be one of ${finished.join(", ")} (jobs that ended)`)),
});

export const retryDeadMany = object({
  limit: int(1, 1_000_000_000).optional().meta({ description: "default: every dead letter" }),
});

export const scheduleIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;
export const scheduleIdParam = z.string().regex(scheduleIdPattern).meta({
  description: "1 to 128 characters of A-Z a-z 0-9 _ . : -",
});

export const schedulesQuery = z.object({
  limit: queryInt(1, limits.maxListPage).optional().meta({ description: "default 1,000" }),
  cursor: z.string().regex(scheduleIdPattern, says("!cursor is not one this server returned"))
    .optional().meta({ description: "`next` of the previous page" }),
}).extend(consistencyQuery.shape);

export const schedule = object({
  queue: queueField,
  cron: z.string(says("must be a cron expression")).max(256, says("must be at most 256 characters"))
    .optional().meta({ description: "5 fields, or 6 with seconds first; with tz, in that zone" }),
  tz: z.string(says("must be an IANA time zone")).max(64, says("must be an IANA time zone"))
    .optional().meta({ description: "IANA zone of cron (default UTC); DST gaps handled" }),
  everyMs: int(1_000, limits.maxDelayMs).optional().meta({
    description: "instead of cron: slots at multiples of everyMs since the epoch",
  }),
  payload: userJson("the payload of each job it enqueues").optional(),
  priority: int(0, 9).optional(),
  maxAttempts: int(1, limits.maxAttempts).optional(),
  overlap: z.enum(["allow", "skip"], says('must be "allow" or "skip"')).default("allow").meta({
    description: "skip: a slot passes while the previous firing's job is unfinished",
  }),
  catchUp: z.enum(["none", "last"], says('must be "none" or "last"')).default("none").meta({
    description: "last: one missed slot fires after an outage; none: missed slots pass",
  }),
});

export const queueParam = z.string().regex(queuePattern).meta({
  description: "1 to 128 characters of A-Z a-z 0-9 _ . -",
});
export const jobIdParam = z.string().regex(jobIdPattern).meta({ description: "a job id: 12-0" });
export const nodeIdParam = z.string().regex(nodeIdPattern);

const nodeId = z.string().regex(
  nodeIdPattern,
  says("must be a node id (1 to 64 of A-Z a-z 0-9 _ . -)"),
);

export const transfer = object(
  { to: nodeId.optional() },
  '!The body must be a JSON object such as {"to": "n2"}',
);

export const newMember = object({
  url: z.url({ protocol: /^https?$/, error: "must be the new node's http(s) URL" })
    .transform((u) => new URL(u).origin),
  id: z.string().regex(nodeIdPattern, says("must be 1 to 64 characters of A-Z a-z 0-9 _ . -"))
    .optional(),
});
