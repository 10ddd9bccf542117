// The narrow interfaces the Ready loop works through: log store, state machine, peers, scheduler.

import type { Entry, Message, Ready, SnapshotChunk, SnapshotMeta } from "../raft/mod.ts";

/**
 * Where a node's Raft state lives: SQLite in production (SqliteLogStore), memory in the simulator.
 * A write is not durable until a flush after it completes.
 */
export interface LogStore {
  /**
   * Writes a Ready's durable parts — received snapshot chunks, entries, hard state — and runs
   * `alongside` in the same write (the apply of its committed entries), as one atomic step that
   * is not yet durable. A Ready's snapshot is not installed here: install() comes first.
   */
  write(rd: Ready, alongside: () => void): void;
  /**
   * Writes the last `chunks` of the received snapshot `meta`, checks it whole, then replaces the
   * state machine and the log with it in one durable step that a crash leaves done or undone.
   * Calls `done` when that step is durable (or failed: never retried).
   */
  install(
    meta: SnapshotMeta,
    chunks: readonly SnapshotChunk[],
    done: (error?: Error) => void,
  ): void;
  /**
   * Makes every write so far durable, then calls `done` (with the error, if it failed: never
   * retried). `done` is never called before flush() returns.
   */
  flush(done: (error?: Error) => void): void;
  /** A chunk of the snapshot at `index`, or null when it has no image (or a newer one exists). */
  readSnapshotChunk(
    index: number,
    offset: number,
    maxBytes: number,
  ): { data: Uint8Array; done: boolean } | null;
  /** Whether the store holds an image of the state machine at `index` (readSnapshotChunk's). */
  hasImage(index: number): boolean;
  /**
   * Starts an image of the state machine as applied at some moment from now on; `done` gets
   * the applied index it holds. One at a time.
   */
  capture(done: (error: Error | null, index: number) => void): void;
  /**
   * Adopts the finished capture as the image at `meta`, durably, in place of any other; the log
   * is left as it is (compact() forgets it).
   */
  saveSnapshot(meta: SnapshotMeta): void;
  /** Drops the finished capture unused. */
  discardCapture(): void;
  /**
   * Forgets the log up to `meta` (the state machine in the same store already covers it), and
   * the image when it is older than `meta`.
   */
  compact(meta: SnapshotMeta): void;
}

/** The replicated state machine as the loop sees it; `R` is what applying an entry answers. */
export interface AppliedState<R> {
  readonly appliedIndex: number;
  /** Applies committed entries in order; the answer of each by index. */
  applyEntries(entries: readonly Entry[]): Map<number, R>;
  /** Re-reads its state after the store installed a snapshot under it. */
  reload(): void;
}

/** Where messages to peers go (WebSockets in production, the simulated network in the simulator). */
export interface PeerSender {
  send(messages: readonly Message[]): void;
}

/** Runs work later, in this node's turn: setImmediate in production, the simulator's event queue. */
export interface Scheduler {
  soon(fn: () => void): void;
  /** Runs `fn` once `ms` milliseconds have passed (setTimeout; the simulator's clock). */
  after(ms: number, fn: () => void): void;
}
