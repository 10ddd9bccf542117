// Writes and reads a follower passes to its leader over the peer link, and the leader's side.

import { type ErrorCode, RaftqError } from "../errors.ts";
import { decodeCommand, encodeCommand, type QueueCommand } from "../queue/commands.ts";
import type { ApplyResult } from "../queue/results.ts";
import { ProposalFailed } from "../transport/proposals.ts";

const codes: ReadonlySet<string> = new Set<ErrorCode>([
  "invalid_request",
  "unauthorized",
  "not_found",
  "lease_mismatch",
  "conflict",
  "cancelled",
  "queue_full",
  "payload_too_large",
  "no_leader",
  "outcome_unknown",
  "unavailable",
]);

/** What a forward needs of the follower. */
export interface Forwarder {
  forwardProposal(to: string, cmd: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

/** What a read forward needs of the follower. */
export interface ReadForwarder {
  forwardRead(to: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

/** The leader's refusal of a forward as the RaftqError it would have thrown here. */
function asRaftqError(err: unknown): unknown {
  if (!(err instanceof ProposalFailed)) return err;
  const { code, message, retryAfterSeconds } = err.error;
  return new RaftqError(
    codes.has(code) ? code as ErrorCode : "unavailable",
    message,
    retryAfterSeconds,
  );
}

/**
 * Sends `cmd` to `leader` and answers the apply's result as if it had been proposed here; the
 * leader's refusal comes back as the same RaftqError. A claim's answer carries users' JSON as
 * exact text (RawJson), which the frames keep as it is.
 */
export async function forwardWrite(
  transport: Forwarder,
  leader: string,
  cmd: QueueCommand,
  timeoutMs: number,
): Promise<ApplyResult> {
  try {
    const result = await transport.forwardProposal(leader, encodeCommand(cmd, 0), timeoutMs);
    return result as ApplyResult; // (from an authenticated member: the leader's own answer)
  } catch (err) {
    throw asRaftqError(err);
  }
}

/**
 * Asks `leader` for a read index (etcd's follower reads): the leader confirms it still leads with
 * a round of heartbeats, and answers its commit index at the time the request arrived; a read
 * served here once this node has applied that index sees every write acknowledged before it.
 */
export async function forwardReadIndex(
  transport: ReadForwarder,
  leader: string,
  timeoutMs: number,
): Promise<number> {
  let answer: Record<string, unknown>;
  try {
    answer = await transport.forwardRead(leader, timeoutMs);
  } catch (err) {
    const error = asRaftqError(err);
    // A read changes nothing, so no answer is not an unknown outcome: there is no leader to ask.
    if (!(error instanceof RaftqError) || error.code !== "outcome_unknown") throw error;
    throw new RaftqError(
      "no_leader",
      `The leader ${leader} gave no read index: ${error.message}`,
      1,
    );
  }
  const index = answer.index;
  if (answer.type !== "readIndex" || !Number.isSafeInteger(index) || (index as number) < 0) {
    throw new RaftqError("unavailable", "the leader answered a read index request oddly", 1);
  }
  return index as number;
}

/** A follower's read index request: this leader's read index, if `from` is a member. */
export function acceptReadIndex(
  node: Pick<ForwardTarget, "isLeader" | "isMember" | "readIndex">,
  from: string,
): Promise<Record<string, unknown>> {
  return forMember(node, from, async () => ({ type: "readIndex", index: await node.readIndex() }));
}

const refuse = (code: ErrorCode, message: string, retryAfterSeconds?: number) =>
  new ProposalFailed({ code, message, retryAfterSeconds });

/**
 * Runs `work` for the peer `from` if it is a member and this node leads; this node's refusal
 * (a RaftqError) goes back as the ProposalFailed the follower turns into the same error.
 */
async function forMember<T>(
  node: Pick<ForwardTarget, "isLeader" | "isMember">,
  from: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!node.isMember(from)) throw refuse("unauthorized", `${from} is not a member`);
  if (!node.isLeader) throw refuse("no_leader", "this node no longer leads", 1);
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof RaftqError)) throw err;
    throw refuse(err.code, err.message, err.retryAfterSeconds);
  }
}

/** What accepting a forward needs of the leader. */
export interface ForwardTarget {
  readonly isLeader: boolean;
  isMember(id: string): boolean;
  propose(cmd: QueueCommand): Promise<ApplyResult>;
  readIndex(): Promise<number>;
}

/**
 * A write forwarded by `from`: proposed here if this node still leads and `from` is a member;
 * the command is validated as any log entry is (its stamp is replaced by this leader's).
 */
export function acceptForwarded(
  node: ForwardTarget,
  cmd: string,
  from: string,
): Promise<Record<string, unknown>> {
  return forMember(node, from, async () => {
    const logged = decodeCommand(cmd);
    if (!logged) throw refuse("invalid_request", "a forwarded write must be a valid command");
    return await node.propose(logged.cmd) as unknown as Record<string, unknown>;
  });
}
