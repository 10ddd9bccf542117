// The errors a Client throws: one class per API error code, and the client's own.

/** The codes raftq answers with (`{"error": {"code", "message"}}`). */
export type ApiErrorCode =
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
  | "unavailable"
  | "too_many_connections"
  | "request_timeout";

/** The client's own: no node answered, the call's time ran out, the caller aborted it. */
export type LocalErrorCode = "unreachable" | "timeout" | "aborted" | "bad_response";

export type ErrorCode = ApiErrorCode | LocalErrorCode;

/** Every error a Client throws. `status` is 0 when no node answered. */
export class RaftqError extends Error {
  constructor(
    /** An ErrorCode, or `http_<status>` for an answer not in raftq's error shape. */
    readonly code: string,
    message: string,
    readonly status = 0,
    /** How long the node asked to wait before a retry (its Retry-After), if it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidRequestError extends RaftqError {}
export class UnauthorizedError extends RaftqError {}
export class NotFoundError extends RaftqError {}
/** The lease is no longer the job's (it expired and the job was claimed again, or it ended). */
export class LeaseMismatchError extends RaftqError {}
export class ConflictError extends RaftqError {}
/** The job was cancelled while leased: stop working on it. */
export class CancelledError extends RaftqError {}
export class PayloadTooLargeError extends RaftqError {}
/** The queue is at its maxDepth: nothing was enqueued (the client retries after Retry-After). */
export class QueueFullError extends RaftqError {}
/** No leader right now, or the node is busy: nothing was done; the client retries these. */
export class UnavailableError extends RaftqError {}
/** A write was proposed but its commit not confirmed: it may or may not have happened. */
export class OutcomeUnknownError extends RaftqError {}
/** No node could be reached, or none answered in time, or the caller aborted. */
export class ConnectionError extends RaftqError {}

const classes: Record<string, new (...a: ConstructorParameters<typeof RaftqError>) => RaftqError> =
  {
    invalid_request: InvalidRequestError,
    unauthorized: UnauthorizedError,
    not_found: NotFoundError,
    lease_mismatch: LeaseMismatchError,
    conflict: ConflictError,
    cancelled: CancelledError,
    payload_too_large: PayloadTooLargeError,
    queue_full: QueueFullError,
    no_leader: UnavailableError,
    unavailable: UnavailableError,
    too_many_connections: UnavailableError,
    request_timeout: UnavailableError,
    outcome_unknown: OutcomeUnknownError,
    unreachable: ConnectionError,
    timeout: ConnectionError,
    aborted: ConnectionError,
  };

/** The error for a code, of its class. */
export function errorOf(
  code: string,
  message: string,
  status = 0,
  retryAfterMs?: number,
): RaftqError {
  const Class = classes[code] ?? RaftqError;
  return new Class(code, message, status, retryAfterMs);
}
