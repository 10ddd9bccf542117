// Requests that arrive together go in one entry (enqueues per queue, worker commands), each still
// answered on its own.

import {
  firingsPerEntry,
  isMergeable,
  maxMergedCommands,
  maxMergedJobs,
  type MergeableCommand,
  type QueueCommand,
} from "../queue/commands.ts";
import type { ApplyResult } from "../queue/results.ts";
import type { RaftqError } from "../errors.ts";

export interface Proposal {
  cmd: QueueCommand;
  resolve(result: ApplyResult): void;
  reject(error: RaftqError): void;
}

type Enqueue = Extract<QueueCommand, { type: "enqueue" }>;

/**
 * The most bytes of users' data (about) a merged entry holds: its frame must fit a peer link's
 * (maxFrameChars) and an append (maxAppendBytes) however many requests arrive together. A request
 * larger than this alone is an entry of its own, as it would be unmerged.
 */
export const maxMergedBytes = 1024 * 1024;

/** What a field-less command or job counts for, beside its users' strings. */
const overheadBytes = 100;

/** A run of requests that become one entry, and what it holds so far. */
interface Run {
  members: Proposal[];
  size: number;
  bytes: number;
}

/**
 * Merges `proposals` into fewer entries, each request still applied and answered as its own: the
 * plain enqueues of each queue into one enqueue whose parts are the requests (up to maxMergedJobs
 * jobs an entry), the worker commands (claims, acks, nacks, extends, releases, progress) into one
 * `merged` entry (up to maxMergedCommands), and the leader's firings of schedules into `merged`
 * entries of their own (up to firingsPerEntry); each up to about maxMergedBytes. One log row, one
 * checksum, one frame per follower and one apply pass instead of one each. The requests were all
 * in flight together, so the order they apply in is theirs to have; a run takes the place of its
 * first request, and other commands keep theirs. Inside a merged entry, claims go last, each
 * queue's together (claimsLast).
 */
export function mergeProposals(proposals: readonly Proposal[]): Proposal[] {
  const slots: (Proposal | Run)[] = [];
  const open = new Map<string, Run>();
  for (const p of proposals) {
    const key = runKey(p.cmd);
    if (key === null) {
      slots.push(p);
      continue;
    }
    const size = p.cmd.type === "enqueue" ? p.cmd.jobs.length : 1;
    const cap = capOf(key);
    const bytes = requestBytes(p.cmd);
    let run = open.get(key);
    if (!run || run.size + size > cap || run.bytes + bytes > maxMergedBytes) {
      run = { members: [], size: 0, bytes: 0 };
      open.set(key, run);
      slots.push(run);
    }
    run.members.push(p);
    run.size += size;
    run.bytes += bytes;
  }
  return slots.map((s) => ("members" in s ? merged(s.members) : s));
}

/**
 * Which run a command joins (its queue's enqueues, the leader's firings, or the other mergeable
 * commands); null: none. Firings run apart, firingsPerEntry an entry, so that batches of them
 * proposed together stay entries of that size.
 */
function runKey(cmd: QueueCommand): string | null {
  if (cmd.type === "enqueue") return cmd.parts ? null : `enqueue:${cmd.queue}`;
  if (cmd.type === "fire") return "fire";
  return isMergeable(cmd) ? "merged" : null;
}

function capOf(key: string): number {
  if (key === "fire") return firingsPerEntry;
  return key === "merged" ? maxMergedCommands : maxMergedJobs;
}

/** About how many bytes `cmd` adds to an entry: its users' strings, and an overhead each. */
export function requestBytes(cmd: QueueCommand): number {
  if (cmd.type !== "enqueue") {
    const texts = cmd as { result?: string; progress?: string; error?: string };
    return overheadBytes + (texts.result?.length ?? 0) + (texts.progress?.length ?? 0) +
      (texts.error?.length ?? 0);
  }
  let bytes = 0;
  for (const job of cmd.jobs) {
    bytes += overheadBytes + job.payload.length + (job.idempotencyKey?.length ?? 0) +
      (job.uniqueKey?.length ?? 0) + (job.group?.length ?? 0);
    for (const id of job.dependsOn ?? []) bytes += id.length + 3;
  }
  return bytes;
}

function merged(arrived: Proposal[]): Proposal {
  if (arrived.length === 1) return arrived[0];
  const enqueues = arrived[0].cmd.type === "enqueue";
  const members = enqueues ? arrived : claimsLast(arrived);
  const first = members[0].cmd;
  return {
    cmd: first.type === "enqueue" ? mergedEnqueue(members) : {
      type: "merged",
      cmds: members.map((m) => m.cmd as MergeableCommand),
    },
    resolve(result) {
      // (an entry no replica could apply is every part's answer)
      members.forEach((m, k) => m.resolve(result.type === "parts" ? result.parts[k] : result));
    },
    reject(error) {
      for (const m of members) m.reject(error);
    },
  };
}

/**
 * The order a merged entry's worker commands apply in, theirs to choose (they were in flight
 * together): as they came, but the claims after the rest (an ack frees room a claim may take),
 * each queue's together, so that the state machine applies them at once (see
 * WorkerCommands.claimMany: 64 workers' claims and acks otherwise alternate).
 */
function claimsLast(members: Proposal[]): Proposal[] {
  const rest: Proposal[] = [];
  const claims = new Map<string, Proposal[]>();
  for (const m of members) {
    if (m.cmd.type !== "claim") rest.push(m);
    else if (claims.has(m.cmd.queue)) claims.get(m.cmd.queue)!.push(m);
    else claims.set(m.cmd.queue, [m]);
  }
  return claims.size === 0 ? members : [...rest, ...[...claims.values()].flat()];
}

function mergedEnqueue(members: Proposal[]): QueueCommand {
  const enqueues = members.map((m) => m.cmd as Enqueue);
  return {
    type: "enqueue",
    queue: enqueues[0].queue,
    jobs: enqueues.flatMap((c) => c.jobs),
    parts: enqueues.map((c) => c.jobs.length),
  };
}
