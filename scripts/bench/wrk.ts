// wrk as a load generator: closed-loop connections driven from C, so the cores go to the servers.

import { aptInstall, fileExists } from "../debian.ts";
import { type LoadResult, postJson, runLoad } from "./load.ts";

/**
 * One request a loop iteration, as a Lua chunk that defines wrk's `request()` (see the helpers
 * below); `url` is where wrk connects.
 */
export interface WrkLoad {
  url: string;
  lua: string;
  /**
   * What the row counts: each answered request (the default); one result every
   * `requestsPerResult` answered requests (etcd's two puts for a worker's claim and ack); or
   * `"acks"`, the jobs a worker load (luaWorker) acked, which its Lua prints at the end.
   */
  count?: { requestsPerResult: number } | "acks";
}

export const wrkBin = "/usr/bin/wrk";

/**
 * What drove a row: wrk (by default), or the bench's own loop of fetch calls (`--generator
 * fetch`, or where wrk could not be installed). The fetch loop took 60–76 µs of CPU a request on
 * the benchmark machine, wrk 12–32 (2026-12-06): on two cores shared with the servers, a dearer
 * load generator takes CPU from the faster system's rows and pulls every ratio toward 1.
 */
export type LoadGenerator = "wrk" | "fetch";

/**
 * The load generator a run's rows use: the one `asked` for, but the fetch loop when wrk is asked
 * for and cannot be installed (said on stderr).
 */
export async function generatorFor(asked: LoadGenerator): Promise<LoadGenerator> {
  if (asked === "fetch" || await ensureWrk()) return asked;
  console.error("bench: wrk could not be installed; every row runs on the fetch loop");
  return "fetch";
}

/** One row's load in both forms: for wrk, and one request of the fetch loop. */
export interface RowLoad {
  wrk: WrkLoad;
  fetch: (worker: number) => Promise<boolean>;
}

/** The same POST of `body` to `path` on the node at `url`, every request, in both forms. */
export function postingLoad(url: string, path: string, body: unknown): RowLoad {
  return {
    wrk: { url, lua: luaFixed("POST", path, JSON.stringify(body)) },
    fetch: async () => (await postJson(`${url}${path}`, body)) !== null,
  };
}

/** Runs `load` on `conns` connections for `durationMs` (see rowDurationMs) with `generator`. */
export function runRow(
  generator: LoadGenerator,
  load: RowLoad,
  conns: number,
  durationMs: number,
): Promise<LoadResult> {
  return generator === "wrk"
    ? runWrk(load.wrk, conns, durationMs)
    : runLoad(conns, durationMs, load.fetch);
}

/** How long a row asked for `durationMs` runs: wrk runs whole seconds, at least one. */
export function rowDurationMs(generator: LoadGenerator, durationMs: number): number {
  return generator === "wrk" ? 1000 * Math.max(1, Math.round(durationMs / 1000)) : durationMs;
}

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
 * The same request until `requests` of them were answered `okStatus`, shared evenly between
 * `threads` threads: each thread stops once it has its share (its other connections' requests in
 * flight still land, so up to connections - threads more may be answered).
 */
export function luaQuota(
  method: string,
  path: string,
  body: string,
  requests: number,
  threads: number,
  okStatus: number,
): string {
  return [
    `local threads = 0`,
    `function setup(thread) threads = threads + 1; thread:set("tid", threads) end`,
    `local share, ok = 0, 0`,
    `function init(args)`,
    `  share = ${Math.floor(requests / threads)} + ((tid <= ${requests % threads}) and 1 or 0)`,
    `  if share == 0 then wrk.thread:stop() end`,
    `end`,
    luaFixed(method, path, body),
    `response = function(status)`,
    `  if status ~= ${okStatus} then return end`,
    `  ok = ok + 1`,
    `  if ok >= share then wrk.thread:stop() end`,
    `end`,
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

/**
 * A worker's loop on every connection: claim a job of `queue`, ack it, claim again; with `next`,
 * each ack asks for the next job in its answer (one request a job once a worker holds one). The
 * jobs a thread's claims leased go on a stack any of its connections acks from, since wrk's
 * `response()` does not say which connection answered. At the end it prints the jobs acked
 * (`worker-acks N`) and the claims that found no job (`worker-empty N`): see parseWrk.
 */
export function luaWorker(queue: string, next: boolean): string {
  if (!/^[A-Za-z0-9_-]+$/.test(queue)) throw new Error(`a queue name of letters: ${queue}`);
  return [
    `local threads = {}`,
    `function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end`,
    `acks, empty = 0, 0`,
    `local held, claimBody, nextPart = {}, "", ""`,
    `local headers = { ["Content-Type"] = "application/json" }`,
    `function init(args)`,
    `  local worker = "w" .. tid`,
    `  claimBody = '{"worker":"' .. worker .. '"}'`,
    next ? `  nextPart = ',"next":{"queue":"${queue}","worker":"' .. worker .. '"}'` : "",
    `end`,
    `request = function()`,
    `  local job = table.remove(held)`,
    `  if job == nil then return wrk.format("POST", "/v1/queues/${queue}/claim", headers, claimBody) end`,
    `  local body = '{"lease":"' .. job[2] .. '"' .. nextPart .. '}'`,
    `  return wrk.format("POST", "/v1/jobs/" .. job[1] .. "/ack", headers, body)`,
    `end`,
    `response = function(status, hdrs, body)`,
    `  if status ~= 200 then return end`,
    `  local acked = string.find(body, '"state":"done"', 1, true) ~= nil`,
    `  if acked then acks = acks + 1 end`,
    `  local at = string.find(body, '"jobs":[', 1, true)`,
    `  if at == nil then return end`,
    `  local id = string.match(body, '"id":"([^"]*)"', at)`,
    `  local lease = string.match(body, '"lease":"([^"]*)"', at)`,
    `  if id and lease then table.insert(held, { id, lease })`,
    `  elseif not acked then empty = empty + 1 end`,
    `end`,
    `done = function()`,
    `  local a, e = 0, 0`,
    `  for _, t in ipairs(threads) do a = a + t:get("acks"); e = e + t:get("empty") end`,
    `  io.write(string.format("worker-acks %d\\nworker-empty %d\\n", a, e))`,
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
    const seconds = rowDurationMs("wrk", durationMs) / 1000;
    const args = [`-t${conns === 1 ? 1 : 2}`, `-c${conns}`, `-d${seconds}s`, "--timeout", "10s"];
    const out = await new Deno.Command(wrkBin, {
      args: [...args, "--latency", "-s", script, load.url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const errors = new TextDecoder().decode(out.stderr).trim();
    // A script that does not load (or fails in a thread) is reported on stderr while wrk goes on
    // with its default GET of the URL and exits 0: any word there fails the row.
    if (!out.success || errors !== "") throw new Error(`wrk failed: ${errors}`);
    return parseWrk(text, conns, load.count);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * wrk's report as the bench's figures: results a second (see WrkLoad.count; requests answered
 * 2xx/3xx by default), errors, and each request's p50 and p99.
 */
export function parseWrk(
  text: string,
  concurrency: number,
  count: WrkLoad["count"] = { requestsPerResult: 1 },
): LoadResult {
  const done = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(text);
  if (!done) throw new Error(`wrk printed no request count:\n${text}`);
  const unit = { ms: 0.001, s: 1, m: 60 }[done[3] as "ms" | "s" | "m"];
  const seconds = Number(done[2]) * unit;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const ok = Math.max(0, Number(done[1]) - non2xx);
  const worker = count === "acks" ? workerCounts(text) : null;
  const perResult = count === "acks" ? 1 : count.requestsPerResult;
  const results = worker ? worker.acks : Math.floor(ok / perResult);
  return {
    concurrency,
    requests: results,
    errors: non2xx + socketErrors + (worker?.empty ?? 0),
    perSecond: results / seconds,
    p50Ms: percentileMs(text, "50"),
    p99Ms: percentileMs(text, "99"),
  };
}

/** What luaWorker's `done()` printed. */
function workerCounts(text: string): { acks: number; empty: number } {
  const acks = /^worker-acks (\d+)$/m.exec(text);
  const empty = /^worker-empty (\d+)$/m.exec(text);
  if (!acks || !empty) throw new Error(`wrk's worker load printed no counts:\n${text}`);
  return { acks: Number(acks[1]), empty: Number(empty[1]) };
}

function percentileMs(text: string, p: string): number {
  const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as "us" | "ms" | "s"];
}
