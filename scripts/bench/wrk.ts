// wrk as a load generator: closed-loop connections driven from C, so the cores go to the servers.

import { aptInstall, fileExists } from "../debian.ts";
import type { LoadResult } from "./load.ts";

/**
 * One request a loop iteration, as a Lua chunk that defines wrk's `request()` (see the helpers
 * below); `url` is where wrk connects.
 */
export interface WrkLoad {
  url: string;
  lua: string;
}

export const wrkBin = "/usr/bin/wrk";

/** Whether wrk is installed; else it is installed from Debian's packages, as etcd is. */
export async function ensureWrk(): Promise<boolean> {
  if (await fileExists(wrkBin)) return true;
  console.error("bench: installing wrk from Debian's packages (apt-get)");
  return (await aptInstall(["wrk"])) === null && await fileExists(wrkBin);
}

/** A Lua long string holding `text` exactly (no escapes: a level its text does not close). */
function luaString(text: string): string {
  let level = "=";
  while (text.includes(`]${level}]`)) level += "=";
  return `[${level}[${text}]${level}]`;
}

/** The same request every time. */
export function luaFixed(method: string, path: string, body?: string): string {
  const headers = body === undefined ? "nil" : `{ ["Content-Type"] = "application/json" }`;
  return [
    `local path, headers = ${luaString(path)}, ${headers}`,
    `local body = ${body === undefined ? "nil" : luaString(body)}`,
    `request = function() return wrk.format(${luaString(method)}, path, headers, body) end`,
  ].join("\n");
}

/**
 * A POST whose body is `before .. key .. after` for each of `keysPerRequest` keys, joined by
 * `between` and wrapped in `open`/`close` (etcd's PUT and its transaction). A key is 16
 * characters of base64's alphabet, so it is itself valid base64 (etcd takes keys so): the run's
 * `tag`, the thread's number and a counter, so no two requests of a run write the same key.
 */
export function luaKeyed(
  path: string,
  tag: string,
  parts: { open: string; before: string; after: string; between: string; close: string },
  keysPerRequest = 1,
): string {
  if (!/^[A-Za-z0-9]{4}$/.test(tag)) throw new Error(`a key tag is 4 base64 letters: ${tag}`);
  const s = (t: string) => luaString(t);
  return [
    `local threads, n, prefix = 0, 0, ""`,
    `function setup(thread) threads = threads + 1; thread:set("tid", threads) end`,
    `function init(args) prefix = ${s(tag)} .. string.format("%04d", tid % 10000) end`,
    `local open, before, after, between, close = ${
      [parts.open, parts.before, parts.after, parts.between, parts.close].map(s).join(", ")
    }`,
    `local headers = { ["Content-Type"] = "application/json" }`,
    `request = function()`,
    `  local out = {}`,
    `  for i = 1, ${keysPerRequest} do`,
    `    n = n + 1`,
    `    out[i] = before .. prefix .. string.format("%08d", n % 100000000) .. after`,
    `  end`,
    `  return wrk.format("POST", ${s(path)}, headers, open .. table.concat(out, between) .. close)`,
    `end`,
  ].join("\n");
}

/** Runs wrk: `conns` connections (two threads, one for a single connection) for `durationMs`. */
export async function runWrk(
  load: WrkLoad,
  conns: number,
  durationMs: number,
): Promise<LoadResult> {
  const dir = await Deno.makeTempDir({ prefix: "raftq-wrk-" });
  try {
    const script = `${dir}/load.lua`;
    await Deno.writeTextFile(script, load.lua);
    const seconds = Math.max(1, Math.round(durationMs / 1000));
    const args = [`-t${conns === 1 ? 1 : 2}`, `-c${conns}`, `-d${seconds}s`, "--timeout", "10s"];
    const out = await new Deno.Command(wrkBin, {
      args: [...args, "--latency", "-s", script, load.url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
    return parseWrk(text, conns);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** wrk's report as the bench's figures: requests answered 2xx/3xx a second, p50 and p99. */
export function parseWrk(text: string, concurrency: number): LoadResult {
  const done = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(text);
  if (!done) throw new Error(`wrk printed no request count:\n${text}`);
  const unit = { ms: 0.001, s: 1, m: 60 }[done[3] as "ms" | "s" | "m"];
  const seconds = Number(done[2]) * unit;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const ok = Math.max(0, Number(done[1]) - non2xx);
  return {
    concurrency,
    requests: ok,
    errors: non2xx + socketErrors,
    perSecond: ok / seconds,
    p50Ms: percentileMs(text, "50"),
    p99Ms: percentileMs(text, "99"),
  };
}

function percentileMs(text: string, p: string): number {
  const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as "us" | "ms" | "s"];
}
