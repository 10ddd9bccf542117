// Peer frames on an authenticated link: Raft messages and pings, encoded with superjson, validated.

import { SuperJSON } from "superjson";
import { type Message, parseMessage } from "../raft/mod.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";

export type Frame =
  /** Raft messages to one peer, coalesced per loop turn: one frame, one write. */
  | { t: "raft"; ms: Message[] }
  | { t: "ping" }
  | { t: "pong" };

/** Messages one frame may carry. */
export const maxMessagesPerFrame = 10_000;

/** Frames larger than this are refused before parsing. */
export const maxFrameChars = 96 * 1024 * 1024;

const codec = new SuperJSON();
codec.registerCustom<Uint8Array, string>({
  isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
  serialize: (v) => encodeBase64(v),
  deserialize: (v) => decodeBase64(v),
}, "bytes");

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
      return { t: "ping" };
    case "pong":
      return { t: "pong" };
    default:
      return null;
  }
}
