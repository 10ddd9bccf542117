// Storage failures that stop a running node (exit 1), and how SQLite's errors are told apart.

import { StartupError } from "../errors.ts";

/**
 * A write or read that failed under a running node (I/O error, disk full, checksum mismatch).
 * Never retried as if nothing happened: a retried fsync can falsely report success. The node
 * logs it and exits; a restart recovers from what is durable.
 */
export class StorageFatalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageFatalError";
  }
}

/** SQLite's own words for an error, on one line, without a stack. */
export function sqliteReason(err: unknown): string {
  let reason = String(err);
  if (err instanceof Error) {
    const code = (err as { errstr?: string; code?: string }).errstr;
    reason = code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return reason.replace(/\s+/g, " ").trim();
}

/** SQLite result codes that follow from the statement and the data alone, the same on any node. */
const deterministicSqliteCodes = new Set([
  18, // SQLITE_TOOBIG
  19, // SQLITE_CONSTRAINT
  20, // SQLITE_MISMATCH
  25, // SQLITE_RANGE
]);

/**
 * Whether applying an entry failed because of the entry and the state alone (so every replica
 * fails it the same way), rather than because of this machine (a full disk, an I/O error, a
 * lock): a bug's TypeError, a constraint. SQLite errors count only by a deterministic code;
 * storage failures never do.
 */
export function isDeterministicFailure(err: unknown): boolean {
  if (err instanceof StorageFatalError || err instanceof StartupError) return false;
  const e = err as { code?: unknown; errcode?: unknown };
  if (e?.code === "ERR_SQLITE_ERROR") {
    return typeof e.errcode === "number" && deterministicSqliteCodes.has(e.errcode & 0xff);
  }
  return err instanceof Error;
}
