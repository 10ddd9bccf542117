// Peer frames on an authenticated link: Raft messages and pings, encoded with superjson, validated.

import { SuperJSON } from "superjson";
import { type Message, parseMessage } from "../raft/mod.ts";

export type Frame =
  /** Raft messages to one peer, coalesced per loop turn: one frame, one write. */
  | { t: "raft"; ms: Message[] }
  /** A liveness probe carrying the sender's wall clock. */
  | { t: "ping"; sentMs: number }
  /** The answer: the ping's clock reading back, and the answerer's wall clock. */
  | { t: "pong"; echoMs: number; atMs: number };

/** Messages one frame may carry. */
export const maxMessagesPerFrame = 10_000;

/** Frames larger than this are refused before parsing. */
export const maxFrameChars = 96 * 1024 * 1024;

const codec = new SuperJSON();
// Snapshot chunks: V8's native base64 (a JavaScript loop per byte cost seconds per GB).
// fromBase64 throws on anything that is not base64, and decodeFrame drops such a frame.
codec.registerCustom<Uint8Array, string>({
  isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
  serialize: (v) => v.toBase64(),
  deserialize: (v) => Uint8Array.fromBase64(v),
}, "bytes");

/** A wall-clock reading: a whole number of milliseconds since the epoch. */
const isTime = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

export function encodeFrame(frame: Frame): string {
  return codec.stringify(frame);
}

/** Decodes and validates a frame; null for anything malformed (the caller counts and drops it). */
export function decodeFrame(text: unknown): Frame | null {
  if (typeof text !== "string" || text.length > maxFrameChars) return null;
  let v: Record<string, unknown>;
  try {
    v = codec.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  switch (v.t) {
    case "raft": {
      if (!Array.isArray(v.ms) || v.ms.length === 0 || v.ms.length > maxMessagesPerFrame) {
        return null;
      }
      const ms: Message[] = [];
      for (const m of v.ms) {
        const parsed = parseMessage(m);
        if (!parsed.ok) return null;
        ms.push(parsed.value);
      }
      return { t: "raft", ms };
    }
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
