// Maps error codes to HTTP statuses and the one error body shape: {"error": {code, message}}.

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, RaftqError } from "../errors.ts";

export const statusOf: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  lease_mismatch: 409,
  conflict: 409,
  cancelled: 409,
  queue_full: 429,
  payload_too_large: 413,
  no_leader: 503,
  outcome_unknown: 503,
  unavailable: 503,
};

export function errorResponse(c: Context, err: RaftqError): Response {
  if (err.retryAfterSeconds !== undefined) c.header("Retry-After", String(err.retryAfterSeconds));
  // The rest of a refused body is never read: the connection closes rather than wait for it.
  if (err.code === "payload_too_large") c.header("Connection", "close");
  return c.json({ error: { code: err.code, message: err.message } }, statusOf[err.code]);
}

/** Anything thrown in a route: ApiErrors as they are; the rest is logged, never shown. */
export function toRaftqError(err: unknown, log: (e: unknown) => void): RaftqError {
  if (err instanceof RaftqError) return err;
  log(err);
  return new RaftqError("unavailable", "The node could not handle the request; retry shortly", 1);
}
