// The narrow interfaces the Ready loop works through: log store, state machine, peers, scheduler.

import type { Entry, Message, Ready, SnapshotMeta } from "../raft/mod.ts";

/**
 * Where a node's Raft state lives: SQLite in production (SqliteLogStore), memory in the simulator.
 * A write is not durable until a flush after it completes.
 */
export interface LogStore {
  /**
   * Writes a Ready's durable parts — snapshot chunks, an installed snapshot (through `restore`),
   * entries, hard state — and runs `alongside` in the same write (the apply of its committed
   * entries), as one atomic step that is not yet durable.
   */
  write(
    rd: Ready,
    restore: (data: Uint8Array, meta: SnapshotMeta) => void,
    alongside: () => void,
  ): void;
  /**
   * Makes every write so far durable, then calls `done` (with the error, if it failed: never
   * retried). `done` is never called before flush() returns.
   */
  flush(done: (error?: Error) => void): void;
  /** A chunk of the snapshot at `index`, or null when none is materialized at that index. */
  readSnapshotChunk(
    index: number,
    offset: number,
    maxBytes: number,
  ): { data: Uint8Array; done: boolean } | null;
  /** Whether a snapshot's data is materialized (not just its metadata after a compaction). */
  snapshotMaterialized(): boolean;
  /** Stores a snapshot with its data, durably, and forgets the log it covers. */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void;
  /** Forgets the log up to `meta` (the state machine in the same store already covers it). */
  compact(meta: SnapshotMeta): void;
}

/** The replicated state machine as the loop sees it; `R` is what applying an entry answers. */
export interface AppliedState<R> {
  readonly appliedIndex: number;
  /** Applies committed entries in order; the answer of each by index. */
  applyEntries(entries: readonly Entry[]): Map<number, R>;
  /** The whole state, as bytes a follower can restore. */
  snapshot(): Uint8Array;
  restore(data: Uint8Array, index: number): void;
}

/** Where messages to peers go (WebSockets in production, the simulated network in the simulator). */
export interface PeerSender {
  send(messages: readonly Message[]): void;
}

/** Runs work later, in this node's turn: setImmediate in production, the simulator's event queue. */
export interface Scheduler {
  soon(fn: () => void): void;
}
