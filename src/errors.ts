// Errors a client can cause or meet, as values with a code; mapped to HTTP in src/api/errors.ts.

export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "not_found"
  | "lease_mismatch"
  | "conflict"
  | "payload_too_large"
  | "no_leader"
  | "outcome_unknown"
  | "unavailable";

export class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly retryAfterSeconds?: number) {
    super(message);
    this.name = "ApiError";
  }
}
