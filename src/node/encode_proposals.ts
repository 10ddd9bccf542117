// Proposals queued in one turn made into entry data: merged, given their first slot, encoded once.

import { RaftqError } from "../errors.ts";
import { encodeCommand, maxEntryBytes, overEntryBytes } from "../queue/commands.ts";
import { nextSlotAfter } from "../queue/schedule_slots.ts";
import { mergeProposals, type Proposal } from "./merge.ts";

const utf8 = new TextEncoder();

/**
 * The proposals' entries, one datum each, with the proposal each answers. A proposal that cannot
 * be encoded is refused alone (its request answered), the others go on.
 */
export function encodeProposals(
  proposals: readonly Proposal[],
  stampMs: number,
): { batch: Proposal[]; datas: Uint8Array[] } {
  const batch: Proposal[] = [];
  const datas: Uint8Array[] = [];
  // (A schedule is never merged: each reaches withFirstSlot as it was proposed.)
  for (const merged of mergeProposals(proposals)) {
    const p = withFirstSlot(merged, stampMs);
    if (p === null) continue;
    const data = encodeOrRefuse(p, stampMs);
    if (data === null) continue;
    datas.push(data);
    batch.push(p);
  }
  return { batch, datas };
}

/**
 * A new schedule's first slot is the leader's to compute, from the stamp its entry carries
 * (replicas never evaluate cron): so a schedule set through a follower counts from the queue's
 * clock as one set at the leader does. Null (and refused) when the spec does not evaluate.
 */
function withFirstSlot(p: Proposal, stampMs: number): Proposal | null {
  if (p.cmd.type !== "setSchedule") return p;
  try {
    return { ...p, cmd: { ...p.cmd, nextRunAt: nextSlotAfter(p.cmd.spec, stampMs) } };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    p.reject(new RaftqError("invalid_request", `The schedule does not evaluate: ${reason}`));
    return null;
  }
}

/**
 * A proposal's entry data (its command's UTF-8: see EntryData), or null once the proposal is
 * refused: a command that cannot be encoded, or one too large for a peer frame to carry (which no
 * follower could ever receive).
 */
function encodeOrRefuse(p: Proposal, stampMs: number): Uint8Array | null {
  let data: string;
  try {
    data = encodeCommand(p.cmd, stampMs);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    p.reject(new RaftqError("invalid_request", `The command could not be encoded: ${reason}`));
    return null;
  }
  if (!overEntryBytes(data)) return utf8.encode(data);
  const message =
    `The request encodes to more than ${maxEntryBytes} bytes, more than a log entry holds`;
  p.reject(new RaftqError("payload_too_large", message));
  return null;
}
