// The queue's replicated commands: typed, versioned, stamped by the leader, encoded with superjson.

import superjson from "superjson";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export interface NewJob {
  payload: JsonValue;
  delayMs: number;
  /** 0..9, higher first. */
  priority: number;
  maxAttempts: number;
  idempotencyKey?: string;
}

export type QueueCommand =
  | { type: "enqueue"; queue: string; jobs: NewJob[] }
  | { type: "claim"; queue: string; worker: string; max: number; leaseMs: number }
  | { type: "ack"; id: string; lease: string; result?: JsonValue }
  | { type: "nack"; id: string; lease: string; error?: string; retryDelayMs?: number }
  | { type: "extend"; id: string; lease: string; leaseMs: number }
  | { type: "cancel"; id: string }
  | { type: "retryDead"; queue: string; id: string }
  /** Expires leases, promotes delayed jobs, purges old done/dead jobs and idempotency keys. */
  | { type: "tick"; retentionMs: number };

/** What goes in a log entry: the command, the format version and the leader's clock. */
export interface LoggedCommand {
  v: 1;
  stampMs: number;
  cmd: QueueCommand;
}

export function encodeCommand(cmd: QueueCommand, stampMs: number): string {
  const logged: LoggedCommand = { v: 1, stampMs, cmd };
  return superjson.stringify(logged);
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isNat = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);

function validJob(v: unknown): boolean {
  return isObj(v) && "payload" in v && isNat(v.delayMs) && isNat(v.priority) &&
    (v.priority as number) <= 9 && isNat(v.maxAttempts) && (v.maxAttempts as number) >= 1 &&
    optional(v.idempotencyKey, isStr);
}

function validCommand(c: unknown): c is QueueCommand {
  if (!isObj(c)) return false;
  switch (c.type) {
    case "enqueue":
      return isStr(c.queue) && Array.isArray(c.jobs) && c.jobs.length >= 1 &&
        c.jobs.every(validJob);
    case "claim":
      return isStr(c.queue) && isStr(c.worker) && isNat(c.max) && (c.max as number) >= 1 &&
        isNat(c.leaseMs);
    case "ack":
      return isStr(c.id) && isStr(c.lease);
    case "nack":
      return isStr(c.id) && isStr(c.lease) && optional(c.error, isStr) &&
        optional(c.retryDelayMs, isNat);
    case "extend":
      return isStr(c.id) && isStr(c.lease) && isNat(c.leaseMs);
    case "cancel":
      return isStr(c.id);
    case "retryDead":
      return isStr(c.queue) && isStr(c.id);
    case "tick":
      return isNat(c.retentionMs);
    default:
      return false;
  }
}

/** Decodes a log entry's data; null for anything that is not a valid v1 command. */
export function decodeCommand(data: string): LoggedCommand | null {
  let v: unknown;
  try {
    v = superjson.parse(data);
  } catch {
    return null;
  }
  if (!isObj(v) || v.v !== 1 || !isNat(v.stampMs) || !validCommand(v.cmd)) return null;
  return v as unknown as LoggedCommand;
}
