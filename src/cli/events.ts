// `raftq events --queue Q [--from INDEX] [--limit N]`: a queue's events, one line each, live.

import { parseFlags } from "./flags.ts";
import { Client } from "../client/client.ts";
import { RaftqError } from "../client/errors.ts";
import type { QueueEvent } from "../client/types.ts";
import { ClientError } from "./client.ts";
import type { CliIo } from "./main.ts";
import { parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";

function line(e: QueueEvent): string {
  if (e.type === "lost") return `lost: events up to index ${e.trimmedThrough} are no longer kept`;
  const extra = [e.group && `group ${e.group}`, e.error && `error ${JSON.stringify(e.error)}`];
  return [e.eventId, e.type, e.jobId, e.state, `attempt ${e.attempt}`, ...extra]
    .filter(Boolean).join("  ");
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new UsageError(`--${flag} must be a whole number`);
  return Number(value);
}

/** Prints events until `--limit` of them, or SIGINT/SIGTERM (exit 0). */
export async function eventsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseFlags("events", {
    args: argv,
    options: {
      ...Object.fromEntries(
        ["url", "token", "queue", "from", "limit"].map((n) => [n, { type: "string" as const }]),
      ),
      json: { type: "boolean" },
    },
    strict: true,
  });
  const v = parsed.values as Record<string, string | undefined>;
  const json = parsed.values.json === true;
  if (!v.queue) throw new UsageError("events needs --queue");
  const from = count(v.from, "from");
  const limit = count(v.limit, "limit");
  const url = parseHttpUrl(v.url ?? io.env.RAFTQ_URL ?? "http://127.0.0.1:7400", "--url");
  const client = new Client({ urls: url, token: v.token ?? io.env.RAFTQ_TOKEN, retryForMs: 5_000 });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, onSignal);
  let seen = 0;
  try {
    for await (const e of client.events(v.queue, { from, signal: stop.signal })) {
      io.out(json ? JSON.stringify(e) : line(e));
      if (limit !== undefined && ++seen >= limit) break;
    }
  } catch (err) {
    if (stop.signal.aborted) return 0;
    if (err instanceof RaftqError) throw new ClientError(`${err.code}: ${err.message}`);
    throw err;
  } finally {
    for (const s of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(s, onSignal);
  }
  return 0;
}
