// What applying a queue command answers: its result, or a refusal that changed nothing.

import type { JobState } from "../storage/schema.ts";
import type { RawJson } from "./json_text.ts";
import type { QueueConfig } from "./queue_settings.ts";
import type { ScheduleView } from "./schedules.ts";

export interface ClaimedJob {
  id: string;
  payload: RawJson;
  attempt: number;
  lease: string;
  leaseExpiresAt: number;
}

export type ApplyError = {
  type: "error";
  code:
    | "lease_mismatch"
    | "queue_full"
    | "cancelled"
    | "not_found"
    | "conflict"
    | "invalid_command"
    | "apply_failed";
  message: string;
};

export type ApplyResult =
  | {
    type: "enqueued";
    jobs: { id: string; state: JobState; deduplicated: boolean }[];
  }
  | { type: "claimed"; jobs: ClaimedJob[] }
  | { type: "flowCreated"; ids: string[] }
  /** The answers to the requests merged into one entry (enqueues or worker commands), in order. */
  | { type: "parts"; parts: ApplyResult[] }
  /** `next`: the jobs the ack's `next` claim leased (present when it asked). */
  | { type: "acked"; id: string; next?: ClaimedJob[] }
  | { type: "nacked"; id: string; state: JobState }
  | { type: "extended"; id: string; leaseExpiresAt: number }
  | { type: "released"; id: string; state: JobState }
  | { type: "progressed"; id: string }
  | { type: "cancelled"; id: string }
  | { type: "retried"; id: string }
  | { type: "paused"; queue: string; paused: boolean }
  | { type: "configured"; queue: string; config: QueueConfig }
  | { type: "retriedMany"; retried: number }
  | { type: "purged"; purged: number }
  | { type: "scheduleSet"; schedule: ScheduleView }
  | { type: "scheduleDeleted"; id: string }
  | { type: "fired"; id: string; jobId: string | null }
  | { type: "ticked"; expired: number; purged: number; more: boolean }
  | { type: "none" }
  | ApplyError;

/** A refusal: the same on every replica, and nothing changed. */
export const refusal = (code: ApplyError["code"], message: string): ApplyError => ({
  type: "error",
  code,
  message,
});
