// Storage failures: what stops start-up (exit 2) and what stops a running node (exit 1).

/** A data directory that cannot be used as it is: bad path, in use, damaged, foreign. Exit 2. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

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
