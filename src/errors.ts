// raftq's errors as values: the domain's, with a code (HTTP statuses only in src/api/errors.ts),
// and what stops start-up.

export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "not_found"
  | "lease_mismatch"
  | "conflict"
  | "cancelled"
  | "queue_full"
  | "payload_too_large"
  | "no_leader"
  | "outcome_unknown"
  | "unavailable";

/**
 * What the node, the queue or the edge answers when it refuses or cannot confirm something: a
 * code a client can act on (see the README's "Every 503"), a message for people, and how soon a
 * retry makes sense.
 */
export class RaftqError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly retryAfterSeconds?: number) {
    super(message);
    this.name = "RaftqError";
  }
}

/**
 * What stops a node from starting: a data directory that cannot be used as it is (bad path, in
 * use, damaged, foreign), a port in use, a full disk. One line on stderr, exit 2.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}
