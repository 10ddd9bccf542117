// Structured logs: one JSON object per line on stderr (or human lines), never secrets.

export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: Level, event: string, fields?: Record<string, unknown>): void;
  /** Fields added to every line from now on (the node id once known, the term). */
  context: Record<string, unknown>;
}

export function createLogger(
  minLevel: Level,
  format: "json" | "text" = "json",
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const logger: Logger = {
    context: {},
    log(level, event, fields = {}) {
      if (order[level] < order[minLevel]) return;
      const record = { ts: new Date().toISOString(), level, event, ...logger.context, ...fields };
      if (format === "json") {
        write(JSON.stringify(record, (_k, v) => (v instanceof Error ? v.message : v)));
      } else {
        const rest = Object.entries({ ...logger.context, ...fields })
          .map(([k, v]) => `${k}=${v instanceof Error ? v.message : JSON.stringify(v)}`).join(" ");
        write(`${record.ts} ${level.toUpperCase().padEnd(5)} ${event}${rest ? " " + rest : ""}`);
      }
    },
  };
  return logger;
}

/**
 * A log function that writes at most `max` lines per `windowMs` for each event, then one line
 * saying how many it held back: for events anyone on the network can cause.
 */
export function rateLimited(
  write: (event: string, fields: Record<string, unknown>) => void,
  max: number,
  windowMs: number,
): (event: string, fields: Record<string, unknown>) => void {
  const windows = new Map<string, { startMs: number; count: number }>();
  return (event, fields) => {
    const now = Date.now();
    let w = windows.get(event);
    if (!w || now - w.startMs >= windowMs) {
      if (w && w.count > max) write(event, { suppressed: w.count - max, windowMs });
      w = { startMs: now, count: 0 };
      windows.set(event, w);
    }
    if (++w.count <= max) write(event, fields);
  };
}
