// What the API may ask of a node: copies of its state, requests, and reads of the queue.

import type { CatchUp } from "./joins.ts";
import type { ApplyResult } from "../queue/results.ts";
import type { JobView } from "../queue/job_view.ts";
import type { QueueStats, QueueView } from "../queue/queue_counts.ts";
import type { QueueCommand } from "../queue/commands.ts";
import type { JobPage } from "../queue/job_listing.ts";
import type { ScheduleView } from "../queue/schedules.ts";
import type { GroupView } from "../queue/groups.ts";
import type { EventPosition, EventRead } from "../queue/events.ts";
import type { JobState } from "../storage/schema.ts";
import type { Member, Role } from "../raft/mod.ts";
import type { NodeMetrics } from "../metrics.ts";

export type { CatchUp };

/** A member as this node sees it; replication figures only on a leader. */
export interface MemberStatus {
  id: string;
  url: string;
  voter: boolean;
  matchIndex: number | null;
  lagEntries: number | null;
  /** A joining learner's progress, on the leader; null otherwise. */
  catchUp: CatchUp | null;
}

/** A copy of the node's state at one moment (the API never holds the core itself). */
export interface NodeStatus {
  id: string;
  role: Role;
  term: number;
  leader: { id: string; url: string | null } | null;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  /** Where the log starts (its last compaction). */
  snapshotIndex: number;
  /** The image a follower behind the log is sent, when one was made since (POST /admin/snapshot). */
  imageIndex: number | null;
  counters: { [name: string]: number };
  clock: { mayLead: boolean; maxOffsetMs: number; queueNowMs: number };
  /** The longest a tick fired late in the last minute: how long the event loop was held. */
  eventLoop: { delayMaxMs: number };
  /** --heartbeat-ms and --election-ms in force. */
  timing: { heartbeatMs: number; electionMs: number };
  members: MemberStatus[];
}

/** The queue's reads, on this node's applied state. */
export interface QueueReads {
  /** The last entry applied here. */
  readonly appliedIndex: number;
  /** Up to about `max` of the queue's events after `after` (see EventLog.read). */
  readEvents(queue: string, after: EventPosition, max: number): EventRead;
  /** When a claim could take a job, by the clock `nowMs` (see QueueStateMachine). */
  claimableAt(queue: string, nowMs: number): number | null;
  /** A page of the queue's named groups with ready or leased jobs, by name after `after`. */
  groupPage(queue: string, after: string, limit: number): GroupView[];
  getJob(id: string): JobView | null;
  /** The queues with jobs or a setting, by name: all, or `limit` of those after `after`. */
  queueStats(after?: string, limit?: number): QueueStats[];
  /** One queue's counts, paused flag and config (zeros and defaults for an unused queue). */
  queueView(queue: string): QueueView;
  listJobs(
    queue: string,
    state: JobState | undefined,
    limit: number,
    cursor?: number,
    group?: string,
  ): JobPage;
  schedule(id: string): ScheduleView | null;
  /** Up to `limit` schedules whose ids come after `after`, by id. */
  scheduleList(after?: string, limit?: number): ScheduleView[];
  deadLetters(
    queue: string,
    limit: number,
    before?: { finishedAt: number; id: string },
  ): { jobs: JobView[]; next: string | null };
}

/**
 * The facade the API sees. Failures are RaftqErrors with a code (no_leader, outcome_unknown,
 * conflict, …): the API maps codes to HTTP in one place.
 */
export interface NodeApi {
  readonly id: string;
  readonly isLeader: boolean;
  readonly leaderId: string;
  /** A member that knows a leader. */
  readonly ready: boolean;
  readonly metrics: NodeMetrics;
  readonly queue: QueueReads;
  status(): NodeStatus;
  members(): Member[];
  /** Proposes a queue command stamped by this leader; resolves with its answer once applied. */
  propose(cmd: QueueCommand): Promise<ApplyResult>;
  /** Resolves once a read now would be linearizable, on the leader only (ReadIndex, then apply). */
  linearizableBarrier(): Promise<void>;
  /** The same on any node: a follower asks the leader for its read index over the peer link. */
  readPoint(): Promise<void>;
  /**
   * Adds a node: as a learner, promoted to voter once it holds the log up to now; removed again
   * if it refuses this cluster (`refusal` says why, from the peer links) or does not catch up.
   */
  addMember(id: string, url: string, refusal: () => string | undefined): Promise<void>;
  removeMember(id: string): Promise<void>;
  /** Starts a leadership transfer (to `to`, or the most up-to-date voter); returns the target. */
  transferLeadership(to?: string): string;
  /** Resolves true once `id` is this node's known leader, false after `timeoutMs`. */
  whenLeader(id: string, timeoutMs: number): Promise<boolean>;
  /** Takes a snapshot and compacts the log now; resolves with its index. */
  requestSnapshot(): Promise<number>;
}
