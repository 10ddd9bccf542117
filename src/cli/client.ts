// The client commands: status, queues, pause, resume, enqueue, claim, ack, nack, members.

import { parseArgs } from "node:util";
import type { CliIo } from "./main.ts";
import { parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";
import { RawJson, stringifyWithRaw } from "../queue/json_text.ts";
import { jobStates } from "../storage/schema.ts";

const defaultUrl = "http://127.0.0.1:7400";

interface Common {
  url: string;
  token: string | undefined;
  json: boolean;
}

/** An HTTP error answered by the node, or a node that cannot be reached. */
export class ClientError extends Error {}

type Flags = Record<string, { type: "string" | "boolean" }>;

function parse(argv: string[], flags: Flags, io: CliIo, command: string) {
  const options = {
    url: { type: "string" as const },
    token: { type: "string" as const },
    json: { type: "boolean" as const },
    ...flags,
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.split("\n")[0]}`);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const common: Common = {
    url: parseHttpUrl((v.url as string) ?? io.env.RAFTQ_URL ?? defaultUrl, "--url"),
    token: (v.token as string) ?? io.env.RAFTQ_TOKEN,
    json: v.json === true,
  };
  return { values: v, positionals: parsed.positionals, common };
}

function intFlag(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  }
  return n;
}

/** Copies the integer flags that were given into a request body: `{ flag: "bodyField" }`. */
function putIntFlags(
  body: Record<string, unknown>,
  values: Record<string, string | boolean | undefined>,
  fields: Record<string, string>,
): void {
  for (const [flag, field] of Object.entries(fields)) {
    const n = intFlag(values[flag], flag);
    if (n !== undefined) body[field] = n;
  }
}

/** A JSON flag, checked here and sent as the exact text given (the server keeps it as is). */
function jsonFlag(v: string, name: string): RawJson {
  try {
    JSON.parse(v);
  } catch {
    throw new UsageError(`--${name} is not valid JSON`);
  }
  return new RawJson(v.trim());
}

async function request(
  c: Common,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  let res: Response;
  try {
    res = await fetch(`${c.url}${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        ...(c.token ? { authorization: `Bearer ${c.token}` } : {}),
      },
      body: body === undefined ? undefined : stringifyWithRaw(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new ClientError(`cannot reach ${c.url}: ${(err as Error).message.split("\n")[0]}`);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    throw new ClientError(`${c.url} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } })?.error;
    throw new ClientError(`${e?.code ?? res.status}: ${e?.message ?? "request failed"}`);
  }
  return parsed;
}

function table(rows: (string | number | boolean | null)[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "-").length)));
  return rows.map((r) =>
    r.map((cell, i) => String(cell ?? "-").padEnd(widths[i])).join("  ").trimEnd()
  )
    .join("\n");
}

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of Deno.stdin.readable) chunks.push(chunk);
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

export async function runClient(command: string, argv: string[], io: CliIo): Promise<number> {
  switch (command) {
    case "status": {
      const { common } = parse(argv, {}, io, command);
      const s = await request(common, "GET", "/admin/status");
      if (common.json) {
        io.out(JSON.stringify(s, null, 2));
        return 0;
      }
      io.out(
        `node ${s.id} (${s.role}, term ${s.term}) leader ${
          s.leader?.id ?? "none"
        }  commit ${s.commitIndex} applied ${s.appliedIndex} snapshot ${s.snapshotIndex}`,
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
    case "queues": {
      const { common } = parse(argv, {}, io, command);
      const r = await request(common, "GET", "/v1/queues");
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
      return 0;
    }
    case "jobs": {
      const flags = {
        queue: { type: "string" },
        state: { type: "string" },
        group: { type: "string" },
        limit: { type: "string" },
        cursor: { type: "string" },
      };
      const { values, common } = parse(argv, flags as Flags, io, command);
      if (typeof values.queue !== "string") throw new UsageError("jobs needs --queue");
      const params = new URLSearchParams();
      if (typeof values.state === "string") params.set("state", values.state);
      if (typeof values.group === "string") params.set("group", values.group);
      if (typeof values.cursor === "string") params.set("cursor", values.cursor);
      const limit = intFlag(values.limit, "limit");
      if (limit !== undefined) params.set("limit", String(limit));
      const search = params.size > 0 ? `?${params}` : "";
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
    case "queue": {
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
    case "groups": {
      const flags = {
        queue: { type: "string" },
        limit: { type: "string" },
        cursor: { type: "string" },
      };
      const { values, common } = parse(argv, flags as Flags, io, command);
      if (typeof values.queue !== "string") throw new UsageError("groups needs --queue");
      const params = new URLSearchParams();
      if (typeof values.cursor === "string") params.set("cursor", values.cursor);
      const limit = intFlag(values.limit, "limit");
      if (limit !== undefined) params.set("limit", String(limit));
      const search = params.size > 0 ? `?${params}` : "";
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
    case "pause":
    case "resume": {
      const { positionals, common } = parse(argv, {}, io, command);
      if (positionals.length !== 1) throw new UsageError(`${command} needs one QUEUE`);
      const queue = encodeURIComponent(positionals[0]);
      const r = await request(common, "POST", `/v1/queues/${queue}/${command}`);
      io.out(common.json ? JSON.stringify(r) : `${r.name} ${r.paused ? "paused" : "resumed"}`);
      return 0;
    }
    case "enqueue": {
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
    case "claim": {
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
    case "ack":
    case "nack": {
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
    case "members": {
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
    case "transfer": {
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
    default:
      throw new UsageError(`unknown command "${command}" (see raftq --help)`);
  }
}
