// Validation of peer messages before they reach the core: shape, types, ranges and sizes.

import type { ConfChange, Entry, Member, Membership, Message, SnapshotMeta } from "./types.ts";

/** Limits on what one message may carry. */
export const messageLimits = {
  maxIdLength: 128,
  maxUrlLength: 2048,
  maxEntries: 100_000,
  maxMembers: 1_000,
  maxChunkBytes: 64 * 1024 * 1024,
} as const;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

class Invalid extends Error {}

function fail(what: string): never {
  throw new Invalid(what);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

/** A term, an index, a count: -0 is refused too (binary frames' JSON header would make it 0). */
function index(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) {
    fail(`${what} is not a non-negative integer`);
  }
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") fail(`${what} is not a boolean`);
  return v;
}

function str(v: unknown, what: string, maxLength: number, allowEmpty = false): string {
  if (typeof v !== "string") fail(`${what} is not a string`);
  if (!allowEmpty && v.length === 0) fail(`${what} is empty`);
  if (v.length > maxLength) fail(`${what} is longer than ${maxLength}`);
  return v;
}

function id(v: unknown, what: string, allowEmpty = false): string {
  return str(v, what, messageLimits.maxIdLength, allowEmpty);
}

function confChange(v: unknown): ConfChange {
  const o = obj(v, "change");
  const type = o.type;
  if (type !== "addLearner" && type !== "addVoter" && type !== "promote" && type !== "remove") {
    fail("change.type is unknown");
  }
  return {
    type,
    id: id(o.id, "change.id"),
    url: str(o.url, "change.url", messageLimits.maxUrlLength, true),
  };
}

export function parseEntry(v: unknown): Entry {
  const o = obj(v, "entry");
  const kind = o.kind;
  if (kind !== "noop" && kind !== "normal" && kind !== "conf") fail("entry.kind is unknown");
  const entry: Entry = {
    index: index(o.index, "entry.index"),
    term: index(o.term, "entry.term"),
    kind,
    data: o.data instanceof Uint8Array
      ? o.data
      : str(o.data, "entry.data", Number.MAX_SAFE_INTEGER, true),
  };
  if (entry.index === 0) fail("entry.index is 0");
  if (kind === "conf") entry.change = confChange(o.change);
  else if (o.change !== undefined) fail("entry.change on a non-conf entry");
  return entry;
}

function member(v: unknown): Member {
  const o = obj(v, "member");
  return {
    id: id(o.id, "member.id"),
    url: str(o.url, "member.url", messageLimits.maxUrlLength, true),
    voter: bool(o.voter, "member.voter"),
  };
}

function membership(v: unknown): Membership {
  const o = obj(v, "membership");
  if (!Array.isArray(o.members) || o.members.length > messageLimits.maxMembers) {
    fail("membership.members is not a list of members");
  }
  return { members: o.members.map(member) };
}

export function parseSnapshotMeta(v: unknown): SnapshotMeta {
  const o = obj(v, "meta");
  return {
    index: index(o.index, "meta.index"),
    term: index(o.term, "meta.term"),
    membership: membership(o.membership),
  };
}

function entries(v: unknown, prevIndex: number, term: number): Entry[] {
  if (!Array.isArray(v)) fail("entries is not a list");
  if (v.length > messageLimits.maxEntries) fail("too many entries");
  const out = v.map(parseEntry);
  let prevTerm = 0;
  for (let k = 0; k < out.length; k++) {
    if (out[k].index !== prevIndex + 1 + k) fail("entries are not contiguous after prevIndex");
    if (out[k].term > term) fail("entry term is newer than the message term");
    if (out[k].term < prevTerm) fail("entry terms go back");
    prevTerm = out[k].term;
  }
  return out;
}

/** Checks that `v` is a well-formed message; never throws. */
export function parseMessage(v: unknown): ParseResult<Message> {
  try {
    return { ok: true, value: parseMessageOrThrow(v) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    return { ok: false, error: "malformed message" };
  }
}

/** A chunk of a snapshot image, at most messageLimits.maxChunkBytes. */
function parseSnapshotMessage(
  o: Record<string, unknown>,
  base: { term: number; from: string; to: string },
): Message {
  if (!(o.chunk instanceof Uint8Array)) fail("chunk is not bytes");
  if (o.chunk.length > messageLimits.maxChunkBytes) fail("chunk is too large");
  return {
    type: "snapshot",
    ...base,
    meta: parseSnapshotMeta(o.meta),
    offset: index(o.offset, "offset"),
    chunk: o.chunk,
    done: bool(o.done, "done"),
  };
}

function parseMessageOrThrow(v: unknown): Message {
  const o = obj(v, "message");
  const base = {
    term: index(o.term, "term"),
    from: id(o.from, "from"),
    to: id(o.to, "to"),
  };
  switch (o.type) {
    case "vote":
      return {
        type: "vote",
        ...base,
        preVote: bool(o.preVote, "preVote"),
        lastLogIndex: index(o.lastLogIndex, "lastLogIndex"),
        lastLogTerm: index(o.lastLogTerm, "lastLogTerm"),
        transfer: bool(o.transfer, "transfer"),
      };
    case "voteResp":
      return {
        type: "voteResp",
        ...base,
        preVote: bool(o.preVote, "preVote"),
        granted: bool(o.granted, "granted"),
      };
    case "append": {
      const prevIndex = index(o.prevIndex, "prevIndex");
      return {
        type: "append",
        ...base,
        prevIndex,
        prevTerm: index(o.prevTerm, "prevTerm"),
        entries: entries(o.entries, prevIndex, base.term),
        commit: index(o.commit, "commit"),
      };
    }
    case "appendResp":
      return {
        type: "appendResp",
        ...base,
        success: bool(o.success, "success"),
        index: index(o.index, "index"),
        hintIndex: index(o.hintIndex, "hintIndex"),
        hintTerm: index(o.hintTerm, "hintTerm"),
      };
    case "heartbeat":
      return {
        type: "heartbeat",
        ...base,
        commit: index(o.commit, "commit"),
        readSeq: index(o.readSeq, "readSeq"),
      };
    case "heartbeatResp":
      return { type: "heartbeatResp", ...base, readSeq: index(o.readSeq, "readSeq") };
    case "snapshot":
      return parseSnapshotMessage(o, base);
    case "snapshotResp":
      return {
        type: "snapshotResp",
        ...base,
        index: index(o.index, "index"),
        nextOffset: index(o.nextOffset, "nextOffset"),
      };
    case "timeoutNow":
      return { type: "timeoutNow", ...base };
    default:
      fail("type is unknown");
  }
}
