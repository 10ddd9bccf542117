// The simulator's replicated state machine: a hash chain over applied entries, cheap to compare.

import type { AppliedState } from "../../src/node/ports.ts";
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

/** Where a hash machine keeps its state (a simulated node's store). */
export interface SmHolder {
  sm: SmState;
}

/** The simulator's state machine: a hash chain over applied entries, kept in the node's store. */
export class HashMachine implements AppliedState<null> {
  constructor(readonly store: SmHolder, readonly onApply: (e: Entry, sm: SmState) => void) {}

  get appliedIndex(): number {
    return this.store.sm.applied;
  }

  applyEntries(entries: readonly Entry[]): Map<number, null> {
    const results = new Map<number, null>();
    for (const e of entries) {
      if (e.index <= this.store.sm.applied) continue;
      this.store.sm = applyEntry(this.store.sm, e);
      this.onApply(e, this.store.sm);
      results.set(e.index, null);
    }
    return results;
  }

  /** Its state lives in the store, which an install has already replaced. */
  reload(): void {}
}
