// Peer frames: the handshake, Raft messages and pings, encoded with superjson and validated.

import { SuperJSON } from "superjson";
import { type Message, parseMessage } from "../raft/mod.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";

export type Frame =
  | { t: "challenge"; v: 1; clusterId: string | null; nodeId: string; nonce: string }
  | { t: "hello"; v: 1; clusterId: string; nodeId: string; nonce: string; mac: string }
  | { t: "welcome"; mac: string }
  | { t: "refused"; reason: string }
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

const isStr = (v: unknown, max = 256): v is string => typeof v === "string" && v.length <= max;

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
    case "challenge":
      return v.v === 1 && (v.clusterId === null || isStr(v.clusterId)) && isStr(v.nodeId) &&
          isStr(v.nonce)
        ? {
          t: "challenge",
          v: 1,
          clusterId: v.clusterId as string | null,
          nodeId: v.nodeId as string,
          nonce: v.nonce as string,
        }
        : null;
    case "hello":
      return v.v === 1 && isStr(v.clusterId) && isStr(v.nodeId) && isStr(v.nonce) && isStr(v.mac)
        ? {
          t: "hello",
          v: 1,
          clusterId: v.clusterId as string,
          nodeId: v.nodeId as string,
          nonce: v.nonce as string,
          mac: v.mac as string,
        }
        : null;
    case "welcome":
      return isStr(v.mac) ? { t: "welcome", mac: v.mac as string } : null;
    case "refused":
      return isStr(v.reason, 1000) ? { t: "refused", reason: v.reason as string } : null;
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
