// The queue's replicated commands: typed, versioned, stamped by the leader, encoded with superjson.

import { Buffer } from "node:buffer";
import superjson from "superjson";
import { superjsonText } from "../plain_json.ts";
import { decodeUtf8 } from "../utf8.ts";
import { compactPayloads, expandPayloads } from "./compact_jobs.ts";
import { type QueueConfig, queueConfigSchema } from "./queue_config.ts";
import type { ScheduleSpec } from "./schedules.ts";

/** A JSON value as text, validated at the edge (see RawJson): users' data, never walked. */
export type JsonText = string;

/** The most rows one bulk entry touches, so no entry stalls the apply loop. */
export const maxRowsPerEntry = 1000;

/** The states a purge may empty. */
export const finishedStates = ["done", "dead", "cancelled", "expired"] as const;
export type FinishedState = typeof finishedStates[number];

export interface NewJob {
  payload: JsonText;
  delayMs: number;
  /** 0..9, higher first. */
  priority: number;
  /** Absent: the queue's config decides (else 5), as of the entry's place in the log. */
  maxAttempts?: number;
  idempotencyKey?: string;
  /** How long the idempotency key deduplicates (default 24 h). */
  idempotencyWindowMs?: number;
  /** At most one unfinished job per queue and key. */
  uniqueKey?: string;
  /** Not claimed within this long of becoming available: the job expires. */
  ttlMs?: number;
  /** The fairness group: claims take turns between a queue's groups. */
  group?: string;
  /** Jobs (ids) this one waits for: it is `waiting` until they are all done. */
  dependsOn?: string[];
  /** A dependency that ends dead, cancelled or expired: the job ends dead ("fail") or goes on. */
  onFailure?: "fail" | "ignore";
}

/** A job of a flow: its queue, and the earlier jobs of the flow (by position) it waits for. */
export interface FlowJob {
  queue: string;
  job: NewJob;
  after: number[];
}

/** The most jobs one enqueue entry holds (requests merged into it included). */
export const maxMergedJobs = 5000;

/** The most requests one merged entry holds (worker commands, firings; see mergeProposals). */
export const maxMergedCommands = 256;

/**
 * The most firings of schedules a leader merges into one entry: on each node such an entry
 * applies in about 6.5 ms, and a writer's answer behind it waits that long (250: writers' p99 66
 * ms against 31 while 10,000 schedules fired).
 */
export const firingsPerEntry = 100;

/** Part sizes, each at least 1, that add up to the entry's jobs. */
function validParts(p: unknown, jobs: number): boolean {
  return Array.isArray(p) && p.length >= 1 && p.every((n) => isNat(n) && n >= 1) &&
    p.reduce((a: number, b: number) => a + b, 0) === jobs;
}

/** The most dependencies one request (an enqueue, a batch, a flow) may name in all. */
export const maxDependencies = 10_000;

/** The most jobs a flow, and the most dependencies a job, may have. */
export const maxFlowJobs = 1000;

/** A claim's fields; `leaseMs` absent: the queue's config decides (else 30 s). */
export interface ClaimFields {
  queue: string;
  worker: string;
  max: number;
  leaseMs?: number;
}

/** A worker's command on the queue: the kinds several requests merge into one entry of. */
export type WorkerCommand =
  | ({ type: "claim" } & ClaimFields)
  /** `next`: a claim made in the same entry once the ack succeeds (a worker's next jobs). */
  | { type: "ack"; id: string; lease: string; result?: JsonText; next?: ClaimFields }
  | {
    type: "nack";
    id: string;
    lease: string;
    error?: string;
    retryDelayMs?: number;
    /** Dead at once, whatever the attempts left. */
    final?: boolean;
  }
  | { type: "extend"; id: string; lease: string; leaseMs: number }
  /** Back to ready (or delayed) without using an attempt: a worker stopping, or snoozing. */
  | { type: "release"; id: string; lease: string; delayMs?: number }
  | { type: "progress"; id: string; lease: string; progress: JsonText };

/**
 * A schedule's firing, proposed by the leader once `dueMs` (the schedule's next_run_at) has come:
 * it enqueues the job of `slotMs` (null: a missed slot, not fired) and moves on to `nextRunAt`. A
 * firing whose `dueMs` is no longer the schedule's changes nothing.
 */
export interface FireCommand {
  type: "fire";
  id: string;
  dueMs: number;
  slotMs: number | null;
  nextRunAt: number | null;
}

/** What a `merged` entry holds: a worker's commands, and the leader's firings of schedules. */
export type MergeableCommand = WorkerCommand | FireCommand;

const workerCommandTypes = new Set<unknown>(
  ["claim", "ack", "nack", "extend", "release", "progress"] satisfies WorkerCommand["type"][],
);
const mergeableTypes = new Set<unknown>([...workerCommandTypes, "fire"]);

/** Whether `cmd` is a worker's command. */
export const isWorkerCommand = (cmd: QueueCommand): cmd is WorkerCommand =>
  workerCommandTypes.has(cmd.type);

/** Whether `cmd` is of the kinds a `merged` entry holds. */
export const isMergeable = (cmd: QueueCommand): cmd is MergeableCommand =>
  mergeableTypes.has(cmd.type);

export type QueueCommand =
  /**
   * `parts`: the sizes of the requests merged into this entry, in order (see mergeProposals): each
   * part is enqueued as if it were its own entry (all or nothing, its own maxDepth check), and the
   * result has one answer per part.
   */
  | { type: "enqueue"; queue: string; jobs: NewJob[]; parts?: number[] }
  /** A DAG of jobs, in an order where each job comes after those it waits for: all or nothing. */
  | { type: "flow"; jobs: FlowJob[] }
  | WorkerCommand
  /**
   * Worker commands, or firings, proposed together (see mergeProposals), in order: each applied as
   * if it were its own entry, with its own answer; a claim among them leases under its part's
   * lease, and the job a firing enqueues is numbered by its part.
   */
  | { type: "merged"; cmds: MergeableCommand[] }
  | { type: "cancel"; id: string }
  | { type: "retryDead"; queue: string; id: string }
  /** Pauses (claims hand out nothing) or resumes a queue. */
  | { type: "pause"; queue: string; paused: boolean }
  | { type: "configure"; queue: string; config: QueueConfig }
  /** Bulk work, at most `maxRowsPerEntry` rows an entry (the API repeats it until done). */
  | { type: "retryDeadMany"; queue: string; limit: number }
  | { type: "purge"; queue: string; state: FinishedState; limit: number }
  /**
   * `nextRunAt` computed by the leader as it encodes the entry, from the entry's stamp (whatever
   * the proposer put there; replicas never evaluate cron).
   */
  | { type: "setSchedule"; id: string; spec: ScheduleSpec; nextRunAt: number | null }
  | { type: "deleteSchedule"; id: string }
  | FireCommand
  /** Expires leases, promotes delayed jobs, purges old done/dead jobs and idempotency keys. */
  | { type: "tick"; retentionMs: number };

/**
 * A log entry's command as read: the command, the format version and the leader's clock. Version 2
 * carries payloads and results as JSON text, so superjson frames only the server's own fields and
 * never meets a key a user chose; version 3 (written now) is 2 where an enqueue of default jobs
 * gives their payloads alone (compact_jobs.ts); version 1 (payloads as values) is still read from
 * old logs. Whatever the version written, a command is read as version 2's.
 */
export interface LoggedCommand {
  v: 2;
  stampMs: number;
  cmd: QueueCommand;
}

/**
 * The most bytes (UTF-8) one entry's command may encode to: a peer frame carries at most 96 MiB
 * (maxFrameChars), and an entry larger than that could never reach a follower. A request within
 * `--max-body-bytes` (at most 64 MiB) can still pass it: escaping doubles a text of quotes.
 */
export const maxEntryBytes = 80 * 1024 * 1024;

/** Whether the encoded command `data` is over `maxBytes` of UTF-8 (counted only if it may be). */
export function overEntryBytes(data: string, maxBytes = maxEntryBytes): boolean {
  if (data.length * 3 <= maxBytes) return false; // (at most 3 bytes a UTF-16 unit)
  return Buffer.byteLength(data, "utf8") > maxBytes;
}

export function encodeCommand(cmd: QueueCommand, stampMs: number): string {
  const logged = { v: 3, stampMs, cmd: compactForm(cmd) };
  // A field left undefined (an optional one a route passed on as it got it) is left out: every
  // reader of a command takes a missing field as undefined, and the entry stays plain JSON.
  return superjsonText(logged, (v) => superjson.stringify(v), { dropUndefinedFields: true });
}

/** `cmd` as version 3 logs it: an enqueue of default jobs gives their payloads alone. */
function compactForm(cmd: QueueCommand): unknown {
  if (cmd.type !== "enqueue") return cmd;
  const payloads = compactPayloads(cmd.jobs);
  if (!payloads) return cmd;
  const { jobs: _, ...rest } = cmd;
  return { ...rest, payloads };
}

/** A version 3 command as the queue reads it: an enqueue's payloads become default jobs. */
function expandV3(cmd: unknown): unknown {
  if (!isObj(cmd) || cmd.type !== "enqueue" || cmd.payloads === undefined) return cmd;
  const { payloads, ...rest } = cmd;
  return rest.jobs === undefined
    ? { ...rest, jobs: expandPayloads(payloads, maxMergedJobs) }
    : null;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isNat = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);

const natOrNull = (v: unknown) => v === null || isNat(v);

function validSpec(v: unknown): boolean {
  return isObj(v) && isStr(v.queue) && isStr(v.payload) &&
    (v.overlap === "allow" || v.overlap === "skip") &&
    (v.catchUp === "none" || v.catchUp === "last") &&
    (isStr(v.cron) || (isNat(v.everyMs) && v.everyMs >= 1)) &&
    optional(v.priority, isNat) && optional(v.maxAttempts, isNat);
}

const isBulkLimit = (v: unknown) => isNat(v) && v >= 1 && v <= maxRowsPerEntry;

function validJob(v: unknown): boolean {
  return isObj(v) && isStr(v.payload) && isNat(v.delayMs) && isNat(v.priority) &&
    (v.priority as number) <= 9 &&
    optional(v.maxAttempts, (n) => isNat(n) && n >= 1) &&
    optional(v.idempotencyKey, isStr) && optional(v.idempotencyWindowMs, isNat) &&
    optional(v.uniqueKey, isStr) && optional(v.ttlMs, (n) => isNat(n) && n >= 1) &&
    optional(v.group, (g) => isStr(g) && g.length >= 1) &&
    optional(
      v.dependsOn,
      (d) => Array.isArray(d) && d.length >= 1 && d.length <= maxFlowJobs && d.every(isStr),
    ) &&
    optional(v.onFailure, (f) => f === "fail" || f === "ignore");
}

/** Each job waits only for earlier ones: the order is a topological one, so there is no cycle. */
function validFlow(jobs: unknown): boolean {
  return Array.isArray(jobs) && jobs.length >= 1 && jobs.length <= maxFlowJobs &&
    jobs.every((f, k) =>
      isObj(f) && isStr(f.queue) && validJob(f.job) && Array.isArray(f.after) &&
      f.after.length <= maxFlowJobs && f.after.every((a) => isNat(a) && a < k)
    );
}

function validClaim(c: Record<string, unknown>): boolean {
  return isStr(c.queue) && isStr(c.worker) && isNat(c.max) && (c.max as number) >= 1 &&
    optional(c.leaseMs, isNat);
}

function validCommand(c: unknown): c is QueueCommand {
  if (!isObj(c)) return false;
  switch (c.type) {
    case "enqueue":
      return isStr(c.queue) && Array.isArray(c.jobs) && c.jobs.length >= 1 &&
        c.jobs.length <= maxMergedJobs && c.jobs.every(validJob) &&
        optional(c.parts, (p) => validParts(p, (c.jobs as unknown[]).length));
    case "flow":
      return validFlow(c.jobs);
    case "claim":
      return validClaim(c);
    case "ack":
      return isStr(c.id) && isStr(c.lease) && optional(c.result, isStr) &&
        optional(c.next, (n) => isObj(n) && validClaim(n));
    case "nack":
      return isStr(c.id) && isStr(c.lease) && optional(c.error, isStr) &&
        optional(c.retryDelayMs, isNat) && optional(c.final, (f) => typeof f === "boolean");
    case "release":
      return isStr(c.id) && isStr(c.lease) && optional(c.delayMs, isNat);
    case "progress":
      return isStr(c.id) && isStr(c.lease) && isStr(c.progress);
    case "extend":
      return isStr(c.id) && isStr(c.lease) && isNat(c.leaseMs);
    case "merged":
      return Array.isArray(c.cmds) && c.cmds.length >= 1 && c.cmds.length <= maxMergedCommands &&
        c.cmds.every((w) => isObj(w) && mergeableTypes.has(w.type) && validCommand(w));
    case "cancel":
      return isStr(c.id);
    case "retryDead":
      return isStr(c.queue) && isStr(c.id);
    case "pause":
      return isStr(c.queue) && typeof c.paused === "boolean";
    case "retryDeadMany":
      return isStr(c.queue) && isBulkLimit(c.limit);
    case "purge":
      return isStr(c.queue) && finishedStates.includes(c.state as FinishedState) &&
        isBulkLimit(c.limit);
    case "setSchedule":
      return isStr(c.id) && validSpec(c.spec) && natOrNull(c.nextRunAt);
    case "deleteSchedule":
      return isStr(c.id);
    case "fire":
      return isStr(c.id) && isNat(c.dueMs) && natOrNull(c.slotMs) && natOrNull(c.nextRunAt);
    case "configure":
      return isStr(c.queue) && queueConfigSchema.safeParse(c.config).success;
    case "tick":
      return isNat(c.retentionMs);
    default:
      return false;
  }
}

/** A version 1 command held payloads and results as values: they become their JSON text. */
function upgradeV1(cmd: unknown): unknown {
  if (!isObj(cmd)) return cmd;
  if (cmd.type === "enqueue" && Array.isArray(cmd.jobs)) {
    return {
      ...cmd,
      jobs: cmd.jobs.map((
        j,
      ) => (isObj(j) ? { ...j, payload: JSON.stringify(j.payload ?? null) } : j)),
    };
  }
  if (cmd.type === "ack" && cmd.result !== undefined) {
    return { ...cmd, result: JSON.stringify(cmd.result) };
  }
  return cmd;
}

/** Decodes a log entry's data (text or its UTF-8); null for anything that is not a valid command. */
export function decodeCommand(data: string | Uint8Array): LoggedCommand | null {
  const text = typeof data === "string" ? data : decodeUtf8(data, true);
  if (text === null) return null;
  let v: unknown;
  let cmd: unknown;
  try {
    v = superjson.parse(text);
    if (!isObj(v)) return null;
    cmd = v.v === 1 ? upgradeV1(v.cmd) : v.v === 2 ? v.cmd : v.v === 3 ? expandV3(v.cmd) : null;
  } catch {
    return null; // (a value too deep to re-encode is as unusable as one that does not parse)
  }
  if (!isNat(v.stampMs) || !validCommand(cmd)) return null;
  return { v: 2, stampMs: v.stampMs, cmd };
}
