// The client commands' plumbing: their flags, the request to a node, and plain-text tables.

import { parseFlags } from "./flags.ts";
import type { CliIo } from "./main.ts";
import { bodyBytesRange, parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";
import { RawJson, stringifyWithRaw } from "../queue/json_text.ts";
import { readAtMost } from "../buffers.ts";

const defaultUrl = "http://127.0.0.1:7400";

export interface Common {
  url: string;
  token: string | undefined;
  json: boolean;
}

/** An HTTP error answered by the node, or a node that cannot be reached. */
export class ClientError extends Error {}

export type Flags = Record<string, { type: "string" | "boolean" }>;

export function parse(argv: string[], flags: Flags, io: CliIo, command: string) {
  const options = {
    url: { type: "string" as const },
    token: { type: "string" as const },
    json: { type: "boolean" as const },
    ...flags,
  };
  const parsed = parseFlags(command, { args: argv, options, strict: true, allowPositionals: true });
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const common: Common = {
    url: parseHttpUrl((v.url as string) ?? io.env.RAFTQ_URL ?? defaultUrl, "--url"),
    token: (v.token as string) ?? io.env.RAFTQ_TOKEN,
    json: v.json === true,
  };
  return { values: v, positionals: parsed.positionals, common };
}

export function intFlag(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  }
  return n;
}

/** Copies the integer flags that were given into a request body: `{ flag: "bodyField" }`. */
export function putIntFlags(
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
export function jsonFlag(v: string, name: string): RawJson {
  try {
    JSON.parse(v);
  } catch {
    throw new UsageError(`--${name} is not valid JSON`);
  }
  return new RawJson(v.trim());
}

export async function request(
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

export function table(rows: (string | number | boolean | null)[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "-").length)));
  return rows.map((r) =>
    r.map((cell, i) => String(cell ?? "-").padEnd(widths[i])).join("  ").trimEnd()
  )
    .join("\n");
}

/** The most standard input a command reads: the largest body a node takes (--max-body-bytes). */
export const maxStdinBytes = bodyBytesRange[1];

/** Standard input whole, as text (a payload given as `-`), at most maxStdinBytes. */
export async function readStdin(): Promise<string> {
  const bytes = await readAtMost(Deno.stdin.readable, maxStdinBytes);
  if (!bytes) {
    throw new UsageError(
      `standard input is longer than ${maxStdinBytes} bytes, more than a node takes`,
    );
  }
  return new TextDecoder().decode(bytes);
}
