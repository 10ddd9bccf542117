// Parses and validates `raftq serve` flags and their RAFTQ_* environment variables (flags win).

import { parseFlags } from "./flags.ts";
import { UsageError } from "./usage_error.ts";

export type { LogLevel, ServeConfig } from "../config.ts";
import type { LogLevel, ServeConfig } from "../config.ts";

/** Each flag and the environment variable it falls back to. */
const serveFlags = {
  id: "RAFTQ_ID",
  listen: "RAFTQ_LISTEN",
  advertise: "RAFTQ_ADVERTISE",
  data: "RAFTQ_DATA",
  join: "RAFTQ_JOIN",
  "cluster-secret": "RAFTQ_CLUSTER_SECRET",
  token: "RAFTQ_TOKEN",
  "tls-cert": "RAFTQ_TLS_CERT",
  "tls-key": "RAFTQ_TLS_KEY",
  "log-level": "RAFTQ_LOG_LEVEL",
  "log-format": "RAFTQ_LOG_FORMAT",
  retention: "RAFTQ_RETENTION",
  "max-body-bytes": "RAFTQ_MAX_BODY_BYTES",
  "max-connections": "RAFTQ_MAX_CONNECTIONS",
  "max-clock-offset": "RAFTQ_MAX_CLOCK_OFFSET",
  "log-memory-bytes": "RAFTQ_LOG_MEMORY_BYTES",
  "log-retain-bytes": "RAFTQ_LOG_RETAIN_BYTES",
  "snapshot-every": "RAFTQ_SNAPSHOT_EVERY",
  "heartbeat-ms": "RAFTQ_HEARTBEAT_MS",
  "election-ms": "RAFTQ_ELECTION_MS",
} as const;

type ServeFlag = keyof typeof serveFlags;

export const serveDefaults = {
  listen: "127.0.0.1:7400",
  data: "./raftq-data",
  logLevel: "info" as LogLevel,
  minClusterSecretBytes: 16,
  retention: "7d",
  maxBodyBytes: 1024 * 1024,
  maxConnections: 4096,
  maxClockOffset: "500ms",
  logMemoryBytes: 8 * 1024 * 1024,
  logRetainBytes: 256 * 1024 * 1024,
  snapshotEveryEntries: 100_000,
  heartbeatMs: 50,
  electionMs: 500,
};

const durationUnitsMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses a duration such as 500ms, 30s, 15m, 12h or 7d. */
export function parseDurationMs(value: string, what: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new UsageError(`${what} "${value}" is not a duration such as 30s, 15m, 12h or 7d`);
  return Number(m[1]) * durationUnitsMs[m[2]];
}

const idPattern = /^[A-Za-z0-9_.-]{1,64}$/;
const logLevels: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** An integer flag from `min` to `max` (`fallback` when absent); `unit` ends the refusal. */
function intFlag(
  raw: string | undefined,
  fallback: number,
  flag: string,
  [min, max]: readonly [number, number],
  unit = "",
): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} "${raw}" must be an integer from ${min} to ${max}${unit}`);
  }
  return n;
}

/**
 * --heartbeat-ms and --election-ms: a leader's heartbeat interval, and the least time a follower
 * waits without one before it campaigns (it waits up to twice that). Raft needs the election
 * timeout well above a heartbeat plus a round trip: at least 5 heartbeats here.
 */
function raftTimes(heartbeatRaw: string | undefined, electionRaw: string | undefined) {
  const heartbeatMs = intFlag(
    heartbeatRaw,
    serveDefaults.heartbeatMs,
    "heartbeat-ms",
    [10, 10_000],
    " (ms)",
  );
  const fallback = Math.max(serveDefaults.electionMs, 10 * heartbeatMs);
  const electionMs = intFlag(electionRaw, fallback, "election-ms", [50, 120_000], " (ms)");
  if (electionMs < 5 * heartbeatMs) {
    throw new UsageError(
      `--election-ms ${electionMs} must be at least 5 heartbeats (5 × ${heartbeatMs} ms)`,
    );
  }
  return { heartbeatMs, electionMs };
}

/** Parses `HOST:PORT` (IPv6 hosts in brackets). */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new UsageError(`${what} "${value}" is not HOST:PORT (for example 127.0.0.1:7400)`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`${what} "${value}" has a port above 65535`);
  return { host: m[1] ?? m[2], port };
}

/** Whether `host` can only be reached from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Parses an http(s) URL given on the command line; returns it without a trailing slash. */
export function parseHttpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${what} "${value}" is not a URL (for example http://10.0.0.1:7400)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`${what} "${value}" must start with http:// or https://`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError(`${what} "${value}" must not carry credentials, a query or a fragment`);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

type Get = (flag: ServeFlag) => string | undefined;

/** The least and the most `--max-body-bytes` may be. */
export const bodyBytesRange: readonly [number, number] = [1024, 64 * 1024 * 1024];

/** `raftq serve` arguments and environment to a validated configuration; throws UsageError. */
export function parseServeArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): ServeConfig {
  const get = serveFlagReader(argv, env);
  const id = get("id");
  if (id !== undefined && !idPattern.test(id)) {
    throw new UsageError(`--id "${id}" must be 1 to 64 characters of A-Z a-z 0-9 _ . -`);
  }
  const address = addressFlags(get);
  const clusterSecret = clusterSecretFlag(get, address.listenHost);
  const logging = loggingFlags(get);
  const limits = limitFlags(get);
  const { heartbeatMs, electionMs } = raftTimes(get("heartbeat-ms"), get("election-ms"));
  return {
    id,
    heartbeatMs,
    electionMs,
    ...address,
    dataDir: get("data") ?? serveDefaults.data,
    clusterSecret,
    token: get("token"),
    ...logging,
    ...limits,
  };
}

/** The flags given (strictly parsed), each falling back to its environment variable. */
function serveFlagReader(argv: string[], env: Record<string, string | undefined>): Get {
  for (const arg of argv) {
    const name = /^--([^=]+)/.exec(arg)?.[1];
    if (arg.startsWith("-") && (name === undefined || !(name in serveFlags))) {
      throw new UsageError(`serve: unknown flag ${arg.split("=")[0]} (see raftq --help)`);
    }
  }
  const options = Object.fromEntries(
    Object.keys(serveFlags).map((name) => [name, { type: "string" as const }]),
  );
  const parsed = parseFlags("serve", { args: argv, options, strict: true, allowPositionals: true });
  if (parsed.positionals.length > 0) {
    throw new UsageError(`serve takes no arguments, got "${parsed.positionals[0]}"`);
  }
  const values = parsed.values as Partial<Record<ServeFlag, string>>;
  return (flag) => {
    const v = values[flag] ?? env[serveFlags[flag]];
    return v === undefined || v === "" ? undefined : v;
  };
}

/** Where the node listens and how others reach it: --listen, --tls-*, --advertise, --join. */
function addressFlags(get: Get) {
  const listen = parseHostPort(get("listen") ?? serveDefaults.listen, "--listen");
  const tlsCertFile = get("tls-cert");
  const tlsKeyFile = get("tls-key");
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together: give both or neither");
  }
  const scheme = tlsCertFile ? "https" : "http";
  const listenAuthority = listen.host.includes(":")
    ? `[${listen.host}]:${listen.port}`
    : `${listen.host}:${listen.port}`;
  const advertise = get("advertise");
  const advertiseUrl = advertise
    ? parseHttpUrl(advertise, "--advertise")
    : `${scheme}://${listenAuthority}`;
  const joinRaw = get("join");
  const joinUrls = joinRaw === undefined
    ? []
    : joinRaw.split(",").map((u) => u.trim()).filter((u) => u !== "").map((u) =>
      parseHttpUrl(u, "--join")
    );
  return {
    listenHost: listen.host,
    listenPort: listen.port,
    advertiseUrl,
    joinUrls,
    tlsCertFile,
    tlsKeyFile,
  };
}

/** --cluster-secret: long enough, and required to listen beyond loopback (protected mode). */
function clusterSecretFlag(get: Get, listenHost: string): string | undefined {
  const clusterSecret = get("cluster-secret");
  if (
    clusterSecret !== undefined &&
    new TextEncoder().encode(clusterSecret).length < serveDefaults.minClusterSecretBytes
  ) {
    throw new UsageError(
      `--cluster-secret is shorter than ${serveDefaults.minClusterSecretBytes} bytes: use a long random value (for example: openssl rand -hex 32)`,
    );
  }
  if (!isLoopbackHost(listenHost) && clusterSecret === undefined) {
    throw new UsageError(
      `refusing to listen on ${listenHost} without --cluster-secret (protected mode): set --cluster-secret (at least 16 bytes) or listen on 127.0.0.1`,
    );
  }
  return clusterSecret;
}

function loggingFlags(get: Get): { logLevel: LogLevel; logFormat: "json" | "text" } {
  const logLevel = get("log-level") ?? serveDefaults.logLevel;
  if (!logLevels.includes(logLevel as LogLevel)) {
    throw new UsageError(`--log-level "${logLevel}" must be one of ${logLevels.join(", ")}`);
  }
  const logFormat = get("log-format") ?? "json";
  if (logFormat !== "json" && logFormat !== "text") {
    throw new UsageError(`--log-format "${logFormat}" must be json or text`);
  }
  return { logLevel: logLevel as LogLevel, logFormat };
}

/** Retention, request and connection limits, the clock offset allowed, the log's bounds. */
function limitFlags(get: Get) {
  const retentionMs = parseDurationMs(get("retention") ?? serveDefaults.retention, "--retention");
  const maxBodyBytes = intFlag(
    get("max-body-bytes"),
    serveDefaults.maxBodyBytes,
    "max-body-bytes",
    bodyBytesRange,
  );
  const maxConnections = intFlag(
    get("max-connections"),
    serveDefaults.maxConnections,
    "max-connections",
    [16, 1_000_000],
  );
  const maxClockOffsetMs = parseDurationMs(
    get("max-clock-offset") ?? serveDefaults.maxClockOffset,
    "--max-clock-offset",
  );
  if (maxClockOffsetMs < 1 || maxClockOffsetMs > 60_000) {
    throw new UsageError("--max-clock-offset must be from 1ms to 60s");
  }
  const bytesFlag = (flag: "log-memory-bytes" | "log-retain-bytes", fallback: number) =>
    intFlag(get(flag), fallback, flag, [1024 * 1024, 64 * 1024 ** 3]);
  const logMemoryBytes = bytesFlag("log-memory-bytes", serveDefaults.logMemoryBytes);
  const logRetainBytes = bytesFlag("log-retain-bytes", serveDefaults.logRetainBytes);
  const everyRaw = get("snapshot-every");
  const snapshotEveryEntries = everyRaw === undefined
    ? serveDefaults.snapshotEveryEntries
    : Number(everyRaw);
  if (!Number.isSafeInteger(snapshotEveryEntries) || snapshotEveryEntries < 10) {
    throw new UsageError(
      `--snapshot-every "${everyRaw}" must be an integer of at least 10 (entries)`,
    );
  }
  return {
    retentionMs,
    maxBodyBytes,
    maxConnections,
    maxClockOffsetMs,
    snapshotEveryEntries,
    logMemoryBytes,
    logRetainBytes,
  };
}
