// The typed tables of the SQLite file, in one place (Kysely's database interface).

import type { Generated } from "kysely";

/** Key-value facts about this node: its id, its cluster's id, the schema version. */
export interface NodeMetaTable {
  key: string;
  value: string;
}

/** The single row of Raft hard state (id = 1). */
export interface RaftHardStateTable {
  id: number;
  term: number;
  vote: string;
  commit_index: number;
}

/** One Raft log entry; `checksum` covers every other column. */
export interface RaftLogTable {
  idx: number;
  term: number;
  kind: string;
  /** A command's text, or its UTF-8 (stored as a BLOB: what this version writes, see EntryData). */
  data: string | Uint8Array;
  change: string | null;
  checksum: number;
}

/** The single row (id = 1) saying where the log starts: the index, term and membership it covers. */
export interface RaftSnapshotTable {
  id: number;
  idx: number;
  term: number;
  membership: string;
  /** Unused since schema 20 (-1): images have their own row (RaftImageTable). */
  size_bytes: number;
  /** Unused since schema 5 (images carry a SHA-256). */
  checksum: number;
}

/**
 * The image a follower behind the log is sent (id = 1; none until one is needed): a file in
 * snapshots/ holding the state machine at `idx`, at or after the log's start.
 */
export interface RaftImageTable {
  id: number;
  idx: number;
  term: number;
  membership: string;
  name: string;
  size_bytes: number;
  sha256: string;
}

/** The queue state machine's bookkeeping (id = 1): applied index and the leader's clock. */
export interface QueueStateTable {
  id: number;
  applied_index: number;
  /** Highest leader stamp applied: the queue's clock, never going back. */
  now_ms: number;
}

/** Every state a job can be in. */
export const jobStates = [
  "ready",
  "delayed",
  "waiting",
  "leased",
  "done",
  "dead",
  "cancelled",
  "expired",
] as const;
export type JobState = typeof jobStates[number];

/** One job. Times are leader-stamped milliseconds since the epoch. */
export interface JobsTable {
  id: string;
  queue: string;
  state: JobState;
  priority: number;
  /** Enqueue order (log index * 10000 + position in the batch), the last tie-breaker. */
  seq: number;
  payload: string;
  result: string | null;
  /** The last progress its worker reported (JSON text), kept after it finishes. */
  progress: string | null;
  last_error: string | null;
  attempts: number;
  max_attempts: number;
  /** When a delayed job becomes ready; for a ready job, since when it is. */
  available_at: number;
  /** The fencing token of the current (or last) lease: the claim's log index. */
  lease: string | null;
  lease_expires_at: number | null;
  worker: string | null;
  idempotency_key: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  /** At most one unfinished job per queue holds a given unique key. */
  unique_key: string | null;
  /** A ready or delayed job not claimed by then expires (ttlMs); null once claimed. */
  expire_at: number | null;
  /** The job's fairness group; '' for none. */
  grp: string;
  /** The jobs it waits for (a JSON array of ids), or null. */
  depends_on: string | null;
  /** How many of them have not ended yet: while above 0, the job is waiting. */
  deps_left: number;
  /** What a dependency that ends dead, cancelled or expired does: 'fail' (null) or 'ignore'. */
  on_failure: string | null;
}

/** A job's payload kept apart from its row (src/queue/job_payloads.ts): `seq` is the job's. */
export interface JobPayloadsTable {
  seq: number;
  payload: string;
}

/**
 * A run of plain ready jobs kept as one row until they are claimed (src/queue/ready_runs.ts): the
 * jobs of seqs next_seq .. end_seq - 1, none of which has a row in jobs.
 */
export interface ReadyRunsTable {
  /** The seq the run started at: its key, never changed (a split run's second part starts anew). */
  first_seq: number;
  queue: string;
  priority: number;
  available_at: number;
  max_attempts: number;
  created_at: number;
  /** The run's first job still in it. */
  next_seq: number;
  /** One past its last job. */
  end_seq: number;
  /** The run_payloads row its payloads are in (the first seq of the run as enqueued). */
  payloads_id: number;
}

/** The payloads of a run as enqueued: their texts one after another, and where each ends. */
export interface RunPayloadsTable {
  id: number;
  /** One past the run's last seq as enqueued. */
  end_seq: number;
  texts: string;
  /** A JSON array of the character offsets where each job's payload ends in `texts`. */
  ends: string;
}

/** A job waiting for another one (`dep_id`) to end; removed once it has. */
export interface JobDepsTable {
  dep_id: string;
  job_id: string;
}

/** A job's end whose waiting jobs are not all told yet, oldest first (seq). */
export interface DepEndsTable {
  seq: Generated<number>;
  dep_id: string;
  state: string;
}

/** Idempotency keys per queue, each kept until its window ends (24 h unless the job said). */
export interface IdempotencyTable {
  queue: string;
  key: string;
  job_id: string;
  created_at: number;
  expires_at: number;
}

/** How many jobs of a queue are in a state (only rows with n > 0 are kept). */
export interface QueueCountsTable {
  queue: string;
  state: JobState;
  n: number;
}

/** A queue's settings (only queues that differ from the defaults have a row). */
export interface QueueSettingsTable {
  queue: string;
  /** 1 while paused: claims hand out nothing. */
  paused: number;
  /** The queue's config as JSON text (see QueueConfig). */
  config: string;
}

/** A schedule: `spec` is its JSON (see ScheduleSpec); `next_run_at` the slot it fires next. */
export interface SchedulesTable {
  id: string;
  queue: string;
  spec: string;
  next_run_at: number | null;
  last_slot_ms: number | null;
  last_job_id: string | null;
  created_at: number;
  updated_at: number;
}

/** A group of a queue with ready or leased jobs (see GroupStore). */
export interface QueueGroupsTable {
  queue: string;
  grp: string;
  ready: number;
  leased: number;
  /** Its place in the queue's round robin; smaller goes first. */
  turn: number;
  /** 1 when it has ready jobs and room under groupConcurrency: a claim may take from it. */
  active: number;
}

/**
 * A queue whose groupConcurrency changed while more of its jobs were leased than one entry looks
 * at: the groups of its leased jobs after `after_seq` still have their active flag to set again.
 */
export interface GroupRecapsTable {
  queue: string;
  after_seq: number;
}

/** The claims of a queue's current rate window (see RateWindows). */
export interface QueueRateTable {
  queue: string;
  window_ms: number;
  claimed: number;
}

/** One entry's job transitions in one queue: a JSON array of events (see EventLog). */
export interface EventsTable {
  idx: number;
  queue: string;
  at_ms: number;
  /** Events in this row, and in every row up to and including it. */
  n: number;
  total: number;
  data: string;
}

/** Per queue ('' for the whole log), the last index whose events were trimmed. */
export interface EventsTrimmedTable {
  queue: string;
  idx: number;
  total: number;
}

export interface Tables {
  job_deps: JobDepsTable;
  dep_ends: DepEndsTable;
  events: EventsTable;
  events_trimmed: EventsTrimmedTable;
  queue_groups: QueueGroupsTable;
  group_recaps: GroupRecapsTable;
  queue_rate: QueueRateTable;
  schedules: SchedulesTable;
  queue_settings: QueueSettingsTable;
  queue_state: QueueStateTable;
  queue_counts: QueueCountsTable;
  jobs: JobsTable;
  job_payloads: JobPayloadsTable;
  ready_runs: ReadyRunsTable;
  run_payloads: RunPayloadsTable;
  idempotency: IdempotencyTable;
  node_meta: NodeMetaTable;
  raft_hard_state: RaftHardStateTable;
  raft_log: RaftLogTable;
  raft_snapshot: RaftSnapshotTable;
  raft_image: RaftImageTable;
}
