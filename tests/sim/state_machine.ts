// The simulator's replicated state machine: a hash chain over applied entries, cheap to compare.

import type { Entry } from "../../src/raft/mod.ts";

export interface SmState {
  applied: number;
  hash: number;
  count: number;
}

export function entryKey(e: Entry): string {
  return e.kind === "conf" ? `conf|${e.change!.type}|${e.change!.id}` : `${e.kind}|${e.data}`;
}

/** FNV-1a over the previous hash and the entry's key. */
export function chain(prev: number, key: string): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function applyEntry(sm: SmState, e: Entry): SmState {
  return { applied: e.index, hash: chain(sm.hash, entryKey(e)), count: sm.count + 1 };
}

export function encodeSm(sm: SmState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(sm));
}

export function decodeSm(data: Uint8Array): SmState {
  return JSON.parse(new TextDecoder().decode(data)) as SmState;
}
