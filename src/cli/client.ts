// The client commands: status, queues, jobs, queue, groups, pause, resume, enqueue, claim, ack,
// nack, members, transfer.

import type { CliIo } from "./main.ts";
import { parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";
import { jobStates } from "../storage/schema.ts";
import {
  type Flags,
  intFlag,
  jsonFlag,
  parse,
  putIntFlags,
  readStdin,
  request,
  table,
} from "./client_request.ts";

export { ClientError } from "./client_request.ts";

type Command = (argv: string[], io: CliIo, command: string) => Promise<number>;

/** A listing's query: the named string flags as given, and --limit checked as an integer. */
function listingQuery(
  values: Record<string, string | boolean | undefined>,
  names: readonly string[],
): string {
  const params = new URLSearchParams();
  for (const name of names) {
    const value = values[name];
    if (typeof value === "string") params.set(name, value);
  }
  const limit = intFlag(values.limit, "limit");
  if (limit !== undefined) params.set("limit", String(limit));
  return params.size > 0 ? `?${params}` : "";
}

/** `raftq status`: the node's view of the cluster, a member a row. */
async function status(argv: string[], io: CliIo, command: string): Promise<number> {
  const { common } = parse(argv, {}, io, command);
  const s = await request(common, "GET", "/admin/status");
  if (common.json) {
    io.out(JSON.stringify(s, null, 2));
    return 0;
  }
  io.out(
    `node ${s.id} (${s.role}, term ${s.term}) leader ${
      s.leader?.id ?? "none"
    }  commit ${s.commitIndex} applied ${s.appliedIndex} snapshot ${s.snapshotIndex}${
      typeof s.imageIndex === "number" ? ` image ${s.imageIndex}` : ""
    }${s.eventLoop ? `  loop delay ${s.eventLoop.delayMaxMs} ms (max, last minute)` : ""}`,
  );
  const rows: (string | number | boolean | null)[][] = [[
    "ID",
    "URL",
    "ROLE",
    "VOTER",
    "MATCH",
    "LAG",
    "REACHABLE",
    "CATCH-UP",
  ]];
  for (const m of s.members) {
    // A member this node cannot reach is said to be so, not given the role it last had.
    const role = m.reachable === false
      ? "unreachable"
      : m.id === s.leader?.id
      ? "leader"
      : m.voter
      ? "follower"
      : "learner";
    rows.push([
      m.id,
      m.url,
      role,
      m.voter,
      m.matchIndex,
      m.lagEntries,
      m.reachable,
      m.catchUp?.summary ?? "",
    ]);
  }
  io.out(table(rows));
  return 0;
}

/** `raftq queues`: each queue's depth by state, a page at a time (1,000 by default). */
async function queues(argv: string[], io: CliIo, command: string): Promise<number> {
  const flags = { limit: { type: "string" }, cursor: { type: "string" } };
  const { values, common } = parse(argv, flags as Flags, io, command);
  const r = await request(common, "GET", `/v1/queues${listingQuery(values, ["cursor"])}`);
  if (common.json) {
    io.out(JSON.stringify(r, null, 2));
    return 0;
  }
  const rows: (string | number)[][] = [
    ["QUEUE", "READY", "DELAYED", "WAITING", "LEASED", "DONE", "DEAD", "CANCELLED", "EXPIRED"],
  ];
  rows[0].push("PAUSED");
  for (const q of r.queues) {
    const paused = q.paused ? "yes" : "no";
    const ended = [q.done, q.dead, q.cancelled, q.expired];
    rows.push([q.name, q.ready, q.delayed, q.waiting ?? 0, q.leased, ...ended, paused]);
  }
  io.out(table(rows));
  if (r.next) io.out(`(more: --cursor ${r.next})`);
  return 0;
}

/** `raftq jobs --queue Q`: a page of the queue's jobs, newest first. */
async function jobs(argv: string[], io: CliIo, command: string): Promise<number> {
  const flags = {
    queue: { type: "string" },
    state: { type: "string" },
    group: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  };
  const { values, common } = parse(argv, flags as Flags, io, command);
  if (typeof values.queue !== "string") throw new UsageError("jobs needs --queue");
  const search = listingQuery(values, ["state", "group", "cursor"]);
  const r = await request(
    common,
    "GET",
    `/v1/queues/${encodeURIComponent(values.queue)}/jobs${search}`,
  );
  if (common.json) {
    io.out(JSON.stringify(r, null, 2));
    return 0;
  }
  const rows: (string | number)[][] = [[
    "ID",
    "STATE",
    "GROUP",
    "ATTEMPTS",
    "PRIORITY",
    "CREATED",
    "LAST ERROR",
  ]];
  for (const j of r.jobs) {
    const created = new Date(j.createdAt).toISOString();
    rows.push([
      j.id,
      j.state,
      j.group ?? "-",
      `${j.attempts}/${j.maxAttempts}`,
      j.priority,
      created,
      (j.lastError ?? "").slice(0, 60),
    ]);
  }
  io.out(r.jobs.length === 0 ? "no jobs" : table(rows));
  if (r.next) io.out(`(more: --cursor ${r.next})`);
  return 0;
}

/** `raftq queue Q`: one queue's depths, limits and config. */
async function queue(argv: string[], io: CliIo, command: string): Promise<number> {
  const { positionals, common } = parse(argv, {}, io, command);
  if (positionals.length !== 1) throw new UsageError("queue needs one QUEUE");
  const q = await request(common, "GET", `/v1/queues/${encodeURIComponent(positionals[0])}`);
  if (common.json) {
    io.out(JSON.stringify(q, null, 2));
    return 0;
  }
  io.out(`queue ${q.name}  ${q.paused ? "paused" : "running"}`);
  io.out(jobStates.map((s) => `${s} ${q[s] ?? 0}`).join("  "));
  const c = q.config;
  const limits = [
    c.concurrency && `concurrency ${c.concurrency}`,
    c.groupConcurrency && `groupConcurrency ${c.groupConcurrency}`,
    c.rateLimit && `rateLimit ${c.rateLimit.max} per ${c.rateLimit.perMs} ms`,
    c.maxDepth && `maxDepth ${c.maxDepth}`,
  ].filter(Boolean);
  io.out(`limits: ${limits.length > 0 ? limits.join(", ") : "none"}`);
  io.out(`config: ${JSON.stringify(c)}`);
  return 0;
}

/** `raftq groups --queue Q`: the queue's groups with ready or leased jobs. */
async function groups(argv: string[], io: CliIo, command: string): Promise<number> {
  const flags = {
    queue: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  };
  const { values, common } = parse(argv, flags as Flags, io, command);
  if (typeof values.queue !== "string") throw new UsageError("groups needs --queue");
  const search = listingQuery(values, ["cursor"]);
  const path = `/v1/queues/${encodeURIComponent(values.queue)}/groups${search}`;
  const r = await request(common, "GET", path);
  if (common.json) {
    io.out(JSON.stringify(r, null, 2));
    return 0;
  }
  const rows: (string | number)[][] = [["GROUP", "READY", "LEASED"]];
  for (const g of r.groups) rows.push([g.group, g.ready, g.leased]);
  io.out(r.groups.length === 0 ? "no groups with ready or leased jobs" : table(rows));
  if (r.next) io.out(`(more: --cursor ${r.next})`);
  return 0;
}

/** `raftq pause Q` and `raftq resume Q`. */
async function pauseOrResume(argv: string[], io: CliIo, command: string): Promise<number> {
  const { positionals, common } = parse(argv, {}, io, command);
  if (positionals.length !== 1) throw new UsageError(`${command} needs one QUEUE`);
  const queue = encodeURIComponent(positionals[0]);
  const r = await request(common, "POST", `/v1/queues/${queue}/${command}`);
  io.out(common.json ? JSON.stringify(r) : `${r.name} ${r.paused ? "paused" : "resumed"}`);
  return 0;
}

/** `raftq enqueue --queue Q`: one job (its payload from --payload, or stdin for `-`). */
async function enqueue(argv: string[], io: CliIo, command: string): Promise<number> {
  const { values, common } = parse(
    argv,
    {
      queue: { type: "string" },
      payload: { type: "string" },
      delay: { type: "string" },
      priority: { type: "string" },
      key: { type: "string" },
      group: { type: "string" },
      "max-attempts": { type: "string" },
    },
    io,
    command,
  );
  if (typeof values.queue !== "string") throw new UsageError("enqueue needs --queue");
  const raw = values.payload === "-" ? await readStdin() : (values.payload as string) ?? "null";
  const body: Record<string, unknown> = { payload: jsonFlag(raw, "payload") };
  putIntFlags(body, values, {
    delay: "delayMs",
    priority: "priority",
    "max-attempts": "maxAttempts",
  });
  if (typeof values.key === "string") body.idempotencyKey = values.key;
  if (typeof values.group === "string") body.group = values.group;
  const r = await request(
    common,
    "POST",
    `/v1/queues/${encodeURIComponent(values.queue)}/jobs`,
    body,
  );
  io.out(
    common.json
      ? JSON.stringify(r)
      : `${r.id} ${r.state}${r.deduplicated ? " (deduplicated)" : ""}`,
  );
  return 0;
}

/** `raftq claim --queue Q`: leases jobs and prints them. */
async function claim(argv: string[], io: CliIo, command: string): Promise<number> {
  const { values, common } = parse(
    argv,
    {
      queue: { type: "string" },
      max: { type: "string" },
      lease: { type: "string" },
      wait: { type: "string" },
      worker: { type: "string" },
    },
    io,
    command,
  );
  if (typeof values.queue !== "string") throw new UsageError("claim needs --queue");
  const body: Record<string, unknown> = {
    worker: (values.worker as string) ?? `cli-${Deno.hostname?.() ?? "host"}-${Deno.pid}`,
  };
  putIntFlags(body, values, { max: "max", lease: "leaseMs", wait: "waitMs" });
  const r = await request(
    common,
    "POST",
    `/v1/queues/${encodeURIComponent(values.queue)}/claim`,
    body,
  );
  if (common.json) io.out(JSON.stringify(r));
  else if (r.jobs.length === 0) io.out("no job ready");
  else {
    for (const j of r.jobs) {
      io.out(
        `${j.id} lease=${j.lease} attempt=${j.attempt} payload=${JSON.stringify(j.payload)}`,
      );
    }
  }
  return 0;
}

/** `raftq ack ID --lease L` and `raftq nack ID --lease L`. */
async function ackOrNack(argv: string[], io: CliIo, command: string): Promise<number> {
  const { values, positionals, common } = parse(
    argv,
    {
      lease: { type: "string" },
      result: { type: "string" },
      error: { type: "string" },
      "retry-delay": { type: "string" },
    },
    io,
    command,
  );
  if (positionals.length !== 1) throw new UsageError(`${command} needs exactly one JOB_ID`);
  if (typeof values.lease !== "string") throw new UsageError(`${command} needs --lease`);
  const body: Record<string, unknown> = { lease: values.lease };
  if (command === "ack" && typeof values.result === "string") {
    body.result = jsonFlag(values.result, "result");
  }
  if (command === "nack") {
    if (typeof values.error === "string") body.error = values.error;
    putIntFlags(body, values, { "retry-delay": "retryDelayMs" });
  }
  const r = await request(
    common,
    "POST",
    `/v1/jobs/${encodeURIComponent(positionals[0])}/${command}`,
    body,
  );
  io.out(common.json ? JSON.stringify(r) : `${r.id} ${r.state}`);
  return 0;
}

/** `raftq members [list | add URL | remove ID]`. */
async function members(argv: string[], io: CliIo, command: string): Promise<number> {
  const { values, positionals, common } = parse(argv, { id: { type: "string" } }, io, command);
  const [action = "list", arg] = positionals;
  let r;
  if (action === "list") r = await request(common, "GET", "/admin/members");
  else if (action === "add") {
    if (!arg) throw new UsageError("members add needs the new node's URL");
    const body: Record<string, unknown> = { url: parseHttpUrl(arg, "URL") };
    if (typeof values.id === "string") body.id = values.id;
    // Answered once the node has caught up: a large snapshot may take minutes.
    r = await request(common, "POST", "/admin/members", body, 31 * 60_000);
  } else if (action === "remove") {
    if (!arg) throw new UsageError("members remove needs a node id");
    r = await request(common, "DELETE", `/admin/members/${encodeURIComponent(arg)}`);
  } else throw new UsageError(`members takes list, add URL or remove ID, not "${action}"`);
  if (common.json) io.out(JSON.stringify(r, null, 2));
  else {
    if (action === "add") io.out(`added ${r.id} (${r.url}) as a voter`);
    if (action === "remove") io.out(`removed ${r.removed}`);
    const rows: (string | boolean)[][] = [["ID", "URL", "VOTER"]];
    for (const m of r.members) rows.push([m.id, m.url, m.voter]);
    io.out(table(rows));
  }
  return 0;
}

/** `raftq transfer [--to ID]`: hands leadership over. */
async function transfer(argv: string[], io: CliIo, command: string): Promise<number> {
  const { values, common } = parse(argv, { to: { type: "string" } }, io, command);
  const r = await request(
    common,
    "POST",
    "/admin/transfer",
    typeof values.to === "string" ? { to: values.to } : {},
  );
  io.out(common.json ? JSON.stringify(r) : `leader is now ${r.leader}`);
  return 0;
}

const commands: Record<string, Command> = {
  status,
  queues,
  jobs,
  queue,
  groups,
  pause: pauseOrResume,
  resume: pauseOrResume,
  enqueue,
  claim,
  ack: ackOrNack,
  nack: ackOrNack,
  members,
  transfer,
};

export async function runClient(command: string, argv: string[], io: CliIo): Promise<number> {
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) throw new UsageError(`unknown command "${command}" (see raftq --help)`);
  return await run(argv, io, command);
}
