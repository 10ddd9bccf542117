// The shapes of raftq's requests and answers, as the client sends and returns them.

export type JobState =
  | "ready"
  | "delayed"
  | "waiting"
  | "leased"
  | "done"
  | "dead"
  | "cancelled"
  | "expired";

export interface EnqueueOptions {
  delayMs?: number;
  /** 0..9, higher first. */
  priority?: number;
  maxAttempts?: number;
  /** How long `idempotencyKey` deduplicates (1 s to 30 d, default 24 h). */
  idempotencyWindowMs?: number;
  /** At most one unfinished job per queue and key: while one exists, an enqueue answers it. */
  uniqueKey?: string;
  /** Not claimed within this long of becoming available: the job ends `expired`. */
  ttlMs?: number;
  /** Its fairness group (1–128 characters): claims take turns between a queue's groups. */
  group?: string;
  /** Jobs (ids) it waits for: it is `waiting` until they are all done. */
  dependsOn?: string[];
  /** A dependency that ends dead, cancelled or expired: end this job dead ("fail") or go on. */
  onFailure?: "fail" | "ignore";
  /**
   * Deduplicates enqueues of the same key on the queue for 24 h. When absent the client makes
   * one, so a retried `outcome_unknown` never enqueues twice; `idempotencyKey: null` sends none.
   */
  idempotencyKey?: string | null;
}

export interface NewJob<P = unknown> extends EnqueueOptions {
  payload: P;
}

export interface Enqueued {
  id: string;
  queue: string;
  state: JobState;
  /** True when the key had been used: `id` is the first job's. */
  deduplicated?: boolean;
}

export interface ClaimOptions {
  /** The worker's name, shown on the job. */
  worker: string;
  /** 1..100, default 1. */
  max?: number;
  leaseMs?: number;
  /** Long poll: wait up to this long (0..20,000 ms) for a job. */
  waitMs?: number;
}

/** An ack's next claim, made in the ack's own log entry: a claim's options but a long poll. */
export interface NextClaim extends Omit<ClaimOptions, "waitMs"> {
  queue: string;
}

export interface ClaimedJob<P = unknown> {
  id: string;
  payload: P;
  attempt: number;
  lease: string;
  leaseExpiresAt: number;
}

export interface Job<P = unknown, R = unknown> {
  id: string;
  queue: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  priority: number;
  payload: P;
  result?: R;
  progress?: unknown;
  lastError?: string;
  createdAt: number;
  updatedAt: number;
  availableAt?: number;
  leaseExpiresAt?: number;
  finishedAt?: number;
  idempotencyKey?: string;
  uniqueKey?: string;
  /** When the job expires if nobody claims it (ttlMs). */
  expiresAt?: number;
  group?: string;
  dependsOn?: string[];
  /** GET /v1/jobs/:id of a job with dependencies: their results, by id. */
  dependencyResults?: Record<string, unknown>;
}

/** A job of a flow (POST /v1/flows): named by `ref`, waiting for the jobs of the flow it names. */
export interface FlowJob<P = unknown> extends Omit<NewJob<P>, "dependsOn"> {
  ref: string;
  queue: string;
  dependsOn?: string[];
}

/** One transition of a job, as GET /v1/queues/:queue/events sends it. */
export interface QueueEvent {
  /** enqueued, claimed, acked, nacked, released, dead, expired, cancelled, progress, promoted, retried, or lost. */
  type: string;
  /** `INDEX:K`: the entry's log index and the event's place in it (the SSE id). */
  eventId?: string;
  index?: number;
  queue: string;
  jobId?: string;
  state?: JobState;
  attempt?: number;
  group?: string;
  error?: string;
  /** The leader-stamped time of the entry. */
  at?: number;
  /** On a `lost` event: events up to this index are no longer kept. */
  trimmedThrough?: number;
}

/** A group of a queue with ready or leased jobs (GET /v1/queues/:queue/groups). */
export interface GroupCounts {
  group: string;
  ready: number;
  leased: number;
}

export interface NackOptions {
  error?: string;
  retryDelayMs?: number;
  /** Dead at once, whatever the attempts left. */
  final?: boolean;
}

export interface QueueStats {
  name: string;
  /** Claims hand out nothing while paused. */
  paused: boolean;
  ready: number;
  delayed: number;
  leased: number;
  done: number;
  dead: number;
  cancelled: number;
  expired: number;
  /** Jobs waiting for their dependencies. */
  waiting: number;
}

export interface Member {
  id: string;
  url: string;
  voter: boolean;
  matchIndex?: number;
  lagEntries?: number;
  reachable?: boolean;
}

export interface ClusterStatus {
  id: string;
  clusterId: string | null;
  role: "leader" | "follower" | "candidate" | "precandidate" | "learner" | string;
  term: number;
  leader: { id: string; url: string | null } | null;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  snapshotIndex: number;
  /** The image a follower behind the log is sent; null when none is kept. */
  imageIndex: number | null;
  members: Member[];
  [more: string]: unknown;
}

/** PUT /v1/schedules/:id: cron (with tz) or everyMs, and the jobs it enqueues. */
export interface ScheduleSpec<P = unknown> {
  queue: string;
  cron?: string;
  tz?: string;
  everyMs?: number;
  payload?: P;
  priority?: number;
  maxAttempts?: number;
  overlap?: "allow" | "skip";
  catchUp?: "none" | "last";
}

export interface Schedule<P = unknown> extends ScheduleSpec<P> {
  id: string;
  overlap: "allow" | "skip";
  catchUp: "none" | "last";
  nextRunAt: number | null;
  lastRunAt: number | null;
  lastJobId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** Per call: cancel it, or bound it more tightly than the client's default. */
export interface CallOptions {
  signal?: AbortSignal;
  /** The whole call, retries included (default: the client's `retryForMs`). */
  timeoutMs?: number;
}

/** PUT /v1/queues/:queue/config: defaults for the queue's jobs, and its depth limit. */
export interface QueueConfig {
  maxAttempts?: number;
  leaseMs?: number;
  backoff?: { type: "exponential" | "fixed"; baseMs: number; maxMs?: number; jitter?: number };
  /** How long the queue's finished jobs are kept (default: the node's --retention). */
  retentionMs?: number;
  /** Most unfinished jobs; an enqueue past it is refused with QueueFullError. */
  maxDepth?: number;
  /** Most leased jobs in the queue at once. */
  concurrency?: number;
  /** Most leased jobs per group at once (1: one at a time, in order). */
  groupConcurrency?: number;
  /** At most `max` claims per `perMs` window of the leader's clock. */
  rateLimit?: { max: number; perMs: number };
}

/** GET /v1/queues/:queue: the counts, and the queue's config. */
export interface QueueView extends QueueStats {
  config: QueueConfig;
}
