// `raftq schedules list | set ID ... | delete ID`: schedules from the command line.

import { parseFlags } from "./flags.ts";
import { Client } from "../client/client.ts";
import { RaftqError } from "../client/errors.ts";
import type { Schedule, ScheduleSpec } from "../client/types.ts";
import { ClientError } from "./client.ts";
import type { CliIo } from "./main.ts";
import { parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";

const usage = "schedules list | set ID --queue Q (--cron EXPR [--tz ZONE] | --every MS) " +
  "[--payload JSON] [--overlap allow|skip] [--catch-up none|last] | delete ID";

const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

function line(s: Schedule): string {
  const rule = s.cron ? `cron "${s.cron}"${s.tz ? ` ${s.tz}` : ""}` : `every ${s.everyMs} ms`;
  return `${s.id}  ${s.queue}  ${rule}  next ${when(s.nextRunAt)}  last ${when(s.lastRunAt)}`;
}

function specOf(v: Record<string, string | boolean | undefined>): ScheduleSpec {
  if (typeof v.queue !== "string") throw new UsageError("schedules set needs --queue");
  const spec: ScheduleSpec = { queue: v.queue };
  if (typeof v.cron === "string") spec.cron = v.cron;
  if (typeof v.tz === "string") spec.tz = v.tz;
  if (typeof v.every === "string") {
    if (!/^\d+$/.test(v.every)) throw new UsageError("--every must be milliseconds");
    spec.everyMs = Number(v.every);
  }
  if (typeof v.payload === "string") {
    try {
      spec.payload = JSON.parse(v.payload);
    } catch {
      throw new UsageError("--payload is not valid JSON");
    }
  }
  if (typeof v.overlap === "string") spec.overlap = v.overlap as ScheduleSpec["overlap"];
  if (typeof v["catch-up"] === "string") spec.catchUp = v["catch-up"] as ScheduleSpec["catchUp"];
  return spec;
}

export async function schedulesCommand(argv: string[], io: CliIo): Promise<number> {
  const names = ["url", "token", "queue", "cron", "tz", "every", "payload", "overlap", "catch-up"];
  const parsed = parseFlags("schedules", {
    args: argv,
    options: {
      ...Object.fromEntries(names.map((n) => [n, { type: "string" as const }])),
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const [action, id] = parsed.positionals;
  const url = parseHttpUrl(
    (v.url as string) ?? io.env.RAFTQ_URL ?? "http://127.0.0.1:7400",
    "--url",
  );
  const client = new Client({
    urls: url,
    token: (v.token as string) ?? io.env.RAFTQ_TOKEN,
    retryForMs: 5_000,
  });
  const out = (value: unknown, text: string) => io.out(v.json ? JSON.stringify(value) : text);
  try {
    if (action === "list") {
      const all = await client.schedules();
      out(all, all.length === 0 ? "no schedules" : all.map(line).join("\n"));
    } else if (action === "set" && id) {
      const s = await client.setSchedule(id, specOf(v));
      out(s, line(s));
    } else if (action === "delete" && id) {
      await client.deleteSchedule(id);
      out({ id, deleted: true }, `${id} deleted`);
    } else throw new UsageError(`usage: raftq ${usage}`);
  } catch (err) {
    if (err instanceof RaftqError) throw new ClientError(`${err.code}: ${err.message}`);
    throw err;
  }
  return 0;
}
