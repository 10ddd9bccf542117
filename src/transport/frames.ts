// Peer frames on an authenticated link: Raft messages (binary) and pings (superjson), validated.

import { SuperJSON } from "superjson";
import { superjsonText } from "../plain_json.ts";
import { type Message, parseMessage } from "../raft/mod.ts";
import { RawJson } from "../queue/json_text.ts";
import { decodeBinaryRaft, encodeBinaryRaft } from "./binary_frames.ts";

export type Frame =
  /** Raft messages to one peer, coalesced per loop turn: one frame, one write. */
  | { t: "raft"; ms: Message[] }
  /** A liveness probe carrying the sender's wall clock. */
  | { t: "ping"; sentMs: number }
  /** The answer: the ping's clock reading back, and the answerer's wall clock. */
  | { t: "pong"; echoMs: number; atMs: number }
  /** A client's write a follower passes to the leader (as etcd forwards MsgProp). */
  | { t: "prop"; id: number; cmd: string }
  /** A follower asks the leader for a read index (as etcd forwards MsgReadIndex). */
  | { t: "read"; id: number }
  /** The leader's answer to a prop: the apply's result, or why it was not proposed. */
  | { t: "propResult"; id: number; result: Record<string, unknown> }
  | { t: "propResult"; id: number; error: ProposalError };

/** Why a forwarded proposal was refused, as the leader's node says it (a code and a message). */
export interface ProposalError {
  code: string;
  message: string;
  retryAfterSeconds?: number;
}

/** Messages one frame may carry. */
export const maxMessagesPerFrame = 10_000;

/** Frames larger than this (characters, or bytes for a binary one) are refused before parsing. */
export const maxFrameChars = 96 * 1024 * 1024;

const codec = new SuperJSON();
// Snapshot chunks in a text frame (binary frames carry them raw): V8's native base64.
// fromBase64 throws on anything that is not base64, and decodeFrame drops such a frame.
codec.registerCustom<Uint8Array, string>({
  isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
  serialize: (v) => v.toBase64(),
  deserialize: (v) => Uint8Array.fromBase64(v),
}, "bytes");
// Users' JSON in a forwarded claim's answer (payloads, results) keeps its exact text: the follower
// answers its client with the same bytes the leader would have.
codec.registerCustom<RawJson, string>({
  isApplicable: (v): v is RawJson => v instanceof RawJson,
  serialize: (v) => v.text,
  deserialize: (v) => {
    if (typeof v !== "string") throw new TypeError("raw JSON must be text"); // the frame is dropped
    return new RawJson(v);
  },
}, "raw");

/** A wall-clock reading: a whole number of milliseconds since the epoch. */
const isTime = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * A Raft frame goes binary (see binary_frames.ts: entry data and chunks raw, no escaping, no
 * base64); pings, pongs and the rare frame binary cannot carry go as superjson text.
 */
export function encodeFrame(frame: Frame): string | Uint8Array {
  return (frame.t === "raft" ? encodeBinaryRaft(frame.ms) : null) ??
    superjsonText(frame, (v) => codec.stringify(v));
}

/** Decodes and validates a frame; null for anything malformed (the caller counts and drops it). */
export function decodeFrame(data: unknown): Frame | null {
  if (data instanceof ArrayBuffer) data = new Uint8Array(data);
  if (data instanceof Uint8Array) {
    return data.length > maxFrameChars ? null : raftFrame(decodeBinaryRaft(data));
  }
  if (typeof data !== "string" || data.length > maxFrameChars) return null;
  let v: Record<string, unknown>;
  try {
    v = codec.parse(data) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  switch (v.t) {
    case "raft":
      return raftFrame(v.ms);
    case "ping":
      return isTime(v.sentMs) ? { t: "ping", sentMs: v.sentMs } : null;
    case "pong":
      return isTime(v.echoMs) && isTime(v.atMs)
        ? { t: "pong", echoMs: v.echoMs, atMs: v.atMs }
        : null;
    case "prop":
      return isTime(v.id) && typeof v.cmd === "string" ? { t: "prop", id: v.id, cmd: v.cmd } : null;
    case "read":
      return isTime(v.id) ? { t: "read", id: v.id } : null;
    case "propResult":
      return propResult(v);
    default:
      return null;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A prop's answer: a result object with a type, or an error with a code and a message. */
function propResult(v: Record<string, unknown>): Frame | null {
  if (!isTime(v.id)) return null;
  if (isObj(v.result) && typeof v.result.type === "string") {
    return { t: "propResult", id: v.id, result: v.result };
  }
  const e = v.error;
  if (!isObj(e) || typeof e.code !== "string" || typeof e.message !== "string") return null;
  const error: ProposalError = { code: e.code, message: e.message };
  if (isTime(e.retryAfterSeconds)) error.retryAfterSeconds = e.retryAfterSeconds;
  return { t: "propResult", id: v.id, error };
}

/** A Raft frame of `ms` if it is a list of 1 to maxMessagesPerFrame valid messages. */
function raftFrame(ms: unknown): Frame | null {
  if (!Array.isArray(ms) || ms.length === 0 || ms.length > maxMessagesPerFrame) return null;
  const out: Message[] = [];
  for (const m of ms) {
    const parsed = parseMessage(m);
    if (!parsed.ok) return null;
    out.push(parsed.value);
  }
  return { t: "raft", ms: out };
}
