// Peer frames on an authenticated link: Raft messages (binary) and pings (superjson), validated.

import { SuperJSON } from "superjson";
import { type Message, parseMessage } from "../raft/mod.ts";
import { decodeBinaryRaft, encodeBinaryRaft } from "./binary_frames.ts";

export type Frame =
  /** Raft messages to one peer, coalesced per loop turn: one frame, one write. */
  | { t: "raft"; ms: Message[] }
  /** A liveness probe carrying the sender's wall clock. */
  | { t: "ping"; sentMs: number }
  /** The answer: the ping's clock reading back, and the answerer's wall clock. */
  | { t: "pong"; echoMs: number; atMs: number };

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

/** A wall-clock reading: a whole number of milliseconds since the epoch. */
const isTime = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * A Raft frame goes binary (see binary_frames.ts: entry data and chunks raw, no escaping, no
 * base64); pings, pongs and the rare frame binary cannot carry go as superjson text.
 */
export function encodeFrame(frame: Frame): string | Uint8Array {
  return (frame.t === "raft" ? encodeBinaryRaft(frame.ms) : null) ?? codec.stringify(frame);
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
    default:
      return null;
  }
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
