// The simulator's LogStore: written state and durable state kept apart, so a power loss can bite.

import { Buffer } from "node:buffer";
import type { AppliedState, LogStore } from "../../src/node/ports.ts";
import {
  emptySnapshot,
  type Entry,
  entryBytes,
  type HardState,
  type RaftInit,
  type Ready,
  type SnapshotChunk,
  type SnapshotMeta,
} from "../../src/raft/mod.ts";
import { decodeSm, encodeSm, HashMachine, type SmState } from "./state_machine.ts";

/** What a simulated node's store holds. */
interface Image {
  hardState: HardState;
  snapshot: SnapshotMeta;
  /** The image a follower behind the log is sent, at or after the snapshot; none until needed. */
  image: { meta: SnapshotMeta; data: Uint8Array } | null;
  /** The log after the snapshot. */
  entries: Entry[];
  /** Chunks of a snapshot being received. */
  incoming: Uint8Array[];
  sm: SmState;
}

/** What the store tells the checker as it writes. */
export interface StoreObserver {
  persisted(rd: Ready, termAt: (index: number) => number | undefined): void;
  installed(meta: SnapshotMeta, sm: SmState): void;
  /** An entry was applied that the store's log does not hold as written (nor covers). */
  appliedUnwritten(e: Entry): void;
}

/** A store as the simulator drives it: the loop's LogStore, plus what a restart finds. */
export interface SimStore extends LogStore {
  /** The state machine as written (the durable one after a crash). */
  sm: SmState;
  load(): RaftInit;
  /** Whether the durable state holds entry `index` of `term` (or a snapshot past it). */
  durableHolds(index: number, term: number): boolean;
  /** The node crashed; a power loss forgets every write no completed flush covered. */
  crash(powerLoss: boolean): void;
  /** Written entries in [lo, hi), at most `maxBytes` (at least one): the core's EntryReader. */
  readEntries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * The state machine a (re)starting node applies through; `onApply` sees each entry applied
   * and the checker's state after it.
   */
  machine(onApply: (e: Entry, after: SmState) => void): AppliedState<unknown>;
}

const zeroSm: SmState = { applied: 0, hash: 0, count: 0 };

function copy(image: Image): Image {
  return { ...image, entries: [...image.entries], incoming: [...image.incoming] };
}

function termIn(image: Image, index: number): number | undefined {
  if (index === image.snapshot.index) return image.snapshot.term;
  const k = index - image.snapshot.index - 1;
  return k >= 0 && k < image.entries.length ? image.entries[k].term : undefined;
}

/**
 * The log, hard state and state machine in memory. A write changes the written image; a flush,
 * when the simulator completes it, makes the image as it was when the flush began durable.
 * Snapshots and compactions are durable at once, with all written before them (SQLite's FULL
 * commit fsyncs the whole WAL).
 */
export class MemoryStore implements SimStore {
  #written: Image;
  #durable: Image;
  /** Bumped by a crash: a flush, capture or install begun before it never completes. */
  #generation = 0;
  #captured: { index: number; data: Uint8Array } | null = null;

  constructor(
    init: RaftInit,
    readonly scheduleFlush: (complete: () => void) => void,
    readonly observer: StoreObserver,
    /** A lying disk: reports each flush done at once (through this), durable only later. */
    readonly lie?: (fn: () => void) => void,
  ) {
    this.#written = {
      hardState: init.hardState,
      snapshot: emptySnapshot,
      image: { meta: emptySnapshot, data: encodeSm(zeroSm) },
      entries: [...init.entries],
      incoming: [],
      sm: zeroSm,
    };
    this.#durable = copy(this.#written);
  }

  get sm(): SmState {
    return this.#written.sm;
  }

  set sm(sm: SmState) {
    this.#written.sm = sm;
  }

  load(): RaftInit {
    const w = this.#written;
    return {
      hardState: w.hardState,
      snapshot: w.snapshot,
      entries: [...w.entries],
      appliedIndex: w.sm.applied,
      image: w.image?.meta ?? null,
    };
  }

  write(rd: Ready, alongside: () => void): void {
    const w = this.#written;
    this.#addChunks(rd.snapshotChunks);
    if (rd.entries.length > 0) {
      const keep = rd.entries[0].index - w.snapshot.index - 1;
      if (keep < 0) throw new Error(`asked to write entry ${rd.entries[0].index} in the snapshot`);
      w.entries.length = Math.min(w.entries.length, keep);
      w.entries.push(...rd.entries);
    }
    if (rd.hardState) w.hardState = rd.hardState;
    this.observer.persisted(rd, (i) => termIn(w, i));
    alongside();
  }

  #addChunks(chunks: readonly SnapshotChunk[]): void {
    for (const chunk of chunks) {
      if (chunk.offset === 0) this.#written.incoming = [];
      const have = this.#written.incoming.reduce((n, c) => n + c.length, 0);
      if (chunk.offset !== have) {
        throw new Error(`chunk at ${chunk.offset} after ${have} bytes (${chunk.meta.index})`);
      }
      this.#written.incoming.push(chunk.data);
    }
  }

  /**
   * Takes simulated time, as a worker's install does; a crash before it completes leaves the
   * old state. Durable with everything written before it (SQLite's FULL commit).
   */
  install(meta: SnapshotMeta, chunks: readonly SnapshotChunk[], done: (error?: Error) => void) {
    this.#addChunks(chunks);
    const data = Buffer.concat(this.#written.incoming);
    this.#written.incoming = [];
    const sm = decodeSm(data);
    if (sm.applied !== meta.index) throw new Error(`snapshot at ${sm.applied}, meta ${meta.index}`);
    const generation = this.#generation;
    this.scheduleFlush(() => {
      if (generation !== this.#generation) return;
      const w = this.#written;
      Object.assign(w, { snapshot: meta, image: null, entries: [], sm });
      this.#durable = copy(w);
      this.observer.installed(meta, sm);
      done();
    });
  }

  /** The state machine as applied now, handed over after simulated time (a worker's copy). */
  capture(done: (error: Error | null, index: number) => void): void {
    const sm = this.#written.sm;
    const generation = this.#generation;
    this.scheduleFlush(() => {
      if (generation !== this.#generation) return;
      this.#captured = { index: sm.applied, data: encodeSm(sm) };
      done(null, sm.applied);
    });
  }

  discardCapture(): void {
    this.#captured = null;
  }

  flush(done: (error?: Error) => void): void {
    const image = copy(this.#written);
    const generation = this.#generation;
    this.scheduleFlush(() => {
      if (generation !== this.#generation) return;
      this.#durable = image;
      if (!this.lie) done();
    });
    if (this.lie) this.lie(() => done());
  }

  readEntries(lo: number, hi: number, maxBytes: number): Entry[] {
    const w = this.#written;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = w.entries[i - w.snapshot.index - 1];
      if (!e) break;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  readSnapshotChunk(index: number, offset: number, maxBytes: number) {
    const image = this.#written.image;
    if (image === null || image.meta.index !== index) return null;
    const data = image.data;
    return {
      data: data.subarray(offset, offset + maxBytes),
      done: offset + maxBytes >= data.length,
    };
  }

  hasImage(index: number): boolean {
    return this.#written.image?.meta.index === index;
  }

  saveSnapshot(meta: SnapshotMeta): void {
    const c = this.#captured;
    if (!c || c.index !== meta.index) throw new Error(`no capture at ${meta.index}`);
    if (meta.index < this.#written.snapshot.index) throw new Error(`image ${meta.index} < log`);
    this.#captured = null;
    this.#written.image = { meta, data: c.data };
    this.#durable = copy(this.#written);
  }

  compact(meta: SnapshotMeta): void {
    const w = this.#written;
    w.entries = w.entries.filter((e) => e.index > meta.index);
    w.snapshot = meta;
    if (w.image !== null && w.image.meta.index < meta.index) w.image = null;
    this.#durable = copy(w);
  }

  durableHolds(index: number, term: number): boolean {
    return this.#durable.snapshot.index >= index || termIn(this.#durable, index) === term;
  }

  machine(onApply: (e: Entry, after: SmState) => void): AppliedState<unknown> {
    return new HashMachine(this, (e, after) => {
      const w = this.#written;
      if (e.index > w.snapshot.index && termIn(w, e.index) !== e.term) {
        this.observer.appliedUnwritten(e);
      }
      onApply(e, after);
    });
  }

  crash(powerLoss: boolean): void {
    this.#generation++;
    this.#captured = null;
    if (powerLoss) this.#written = copy(this.#durable);
    else this.#durable = copy(this.#written); // the OS keeps what the process wrote
  }
}
