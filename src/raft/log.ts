// The Raft log after the latest snapshot: every entry's term, a bounded tail of whole entries.

import { emptyMembership } from "./membership.ts";
import type { Entry, SnapshotMeta } from "./types.ts";

/** Rough byte size of an entry, for message and memory budgets. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + (entry.change ? entry.change.id.length + entry.change.url.length : 0) +
    32;
}

export const emptySnapshot: SnapshotMeta = { index: 0, term: 0, membership: emptyMembership };

/** Reads persisted entries in [lo, hi), at most `maxBytes` (at least one entry). */
export type EntryReader = (lo: number, hi: number, maxBytes: number) => Entry[];

/**
 * What a core starts its log from: the snapshot, then either every entry, or (`terms` given) the
 * term and size of every entry with only a tail of whole entries (the rest is read when needed).
 */
export interface LogInit {
  snapshot: SnapshotMeta;
  entries: Entry[];
  /** Terms of entries snapshot.index + 1 .. last, when `entries` holds only the tail. */
  terms?: number[];
  sizes?: number[];
  /** Conf entries among those not in `entries`. */
  confs?: Entry[];
}

/**
 * Invariants: terms[k] and sizes[k] describe entry snapshot.index + 1 + k, terms never decrease;
 * `tail` holds the entries from `tailFrom` to the last one; `confs` holds every conf entry after
 * the snapshot (membership is recomputed from them). Entries before `tailFrom` are persisted: only
 * entries the caller has made durable are ever evicted from the tail, and they are read back
 * through the reader when a follower needs them.
 */
export class RaftLog {
  snapshot: SnapshotMeta;
  #terms: number[] = [];
  #sizes: number[] = [];
  #tail: Entry[] = [];
  #tailFrom: number;
  #tailBytes = 0;
  #confs: Entry[] = [];
  #bytes = 0;

  constructor(
    init: LogInit = { snapshot: emptySnapshot, entries: [] },
    readonly reader: EntryReader | null = null,
    /** Bytes of whole entries kept in memory (beyond the unpersisted ones) with a reader. */
    readonly memoryBytes = Infinity,
  ) {
    this.snapshot = init.snapshot;
    this.#tailFrom = init.snapshot.index + 1;
    if (init.terms) {
      this.#terms = [...init.terms];
      this.#sizes = [...(init.sizes ?? init.terms.map(() => 0))];
      this.#bytes = this.#sizes.reduce((n, b) => n + b, 0);
      this.#confs = [...(init.confs ?? [])];
      this.#tailFrom = init.snapshot.index + 1 + this.#terms.length - init.entries.length;
      for (const e of init.entries) this.#keep(e);
    } else {
      for (const e of init.entries) this.#push(e);
    }
    this.#check();
  }

  #check(): void {
    let prev = this.snapshot.term;
    this.#terms.forEach((t, k) => {
      if (t < prev) {
        throw new RangeError(`Log term goes back at index ${this.snapshot.index + 1 + k}`);
      }
      prev = t;
    });
    this.#tail.forEach((e, k) => {
      if (e.index !== this.#tailFrom + k) {
        throw new RangeError(
          `Log entries are not contiguous after snapshot ${this.snapshot.index}: found index ${e.index} at position ${k}`,
        );
      }
      if (this.#terms[e.index - this.snapshot.index - 1] !== e.term) {
        throw new RangeError(`Log entry ${e.index} disagrees with its term`);
      }
    });
  }

  /** Adds an entry at the end of the log (terms, sizes, tail, confs). */
  #push(e: Entry): void {
    const size = entryBytes(e);
    this.#terms.push(e.term);
    this.#sizes.push(size);
    this.#bytes += size;
    if (e.kind === "conf") this.#confs.push(e);
    this.#keep(e);
  }

  /** Adds an entry already counted in terms and sizes to the tail. */
  #keep(e: Entry): void {
    this.#tail.push(e);
    this.#tailBytes += entryBytes(e);
  }

  /** The first index still held as an entry (snapshot.index + 1, even when the log is empty). */
  firstIndex(): number {
    return this.snapshot.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.index + this.#terms.length;
  }

  lastTerm(): number {
    return this.#terms.length > 0 ? this.#terms[this.#terms.length - 1] : this.snapshot.term;
  }

  /** Bytes of the entries after the snapshot (persisted or not): what compaction bounds. */
  bytes(): number {
    return this.#bytes;
  }

  /** The first index after which the entries hold at most `bytes` (for compaction by size). */
  indexKeeping(bytes: number): number {
    let kept = 0;
    let k = this.#sizes.length;
    while (k > 0 && kept + this.#sizes[k - 1] <= bytes) kept += this.#sizes[--k];
    return this.snapshot.index + k;
  }

  /** The conf entries after the snapshot, in order. */
  confEntries(): readonly Entry[] {
    return this.#confs;
  }

  /** The term at `index`, or undefined when it was compacted away or is beyond the log. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.#terms[index - this.snapshot.index - 1];
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.slice(index, index + 1)[0];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Entries in [lo, hi), stopping early once `maxBytes` is reached (at least one entry). */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.snapshot.index) {
      throw new RangeError(`Entries from ${lo} were compacted (snapshot ${this.snapshot.index})`);
    }
    const end = Math.min(hi, this.lastIndex() + 1);
    if (lo >= end) return [];
    const out: Entry[] = [];
    let bytes = 0;
    if (lo < this.#tailFrom) {
      const stored = this.#read(lo, Math.min(end, this.#tailFrom), maxBytes);
      out.push(...stored);
      for (const e of stored) bytes += entryBytes(e);
      if (stored.length < Math.min(end, this.#tailFrom) - lo) return out; // the budget ran out
    }
    for (let i = Math.max(lo, this.#tailFrom); i < end; i++) {
      const entry = this.#tail[i - this.#tailFrom];
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  #read(lo: number, hi: number, maxBytes: number): Entry[] {
    if (!this.reader) throw new Error(`Entries from ${lo} are not in memory and no reader is set`);
    const entries = this.reader(lo, this.#endWithin(lo, hi, maxBytes), maxBytes);
    entries.forEach((e, k) => {
      if (e.index !== lo + k || e.term !== this.term(e.index)) {
        throw new Error(`The log store returned entry ${e.index}@${e.term} for ${lo + k}`);
      }
    });
    if (entries.length === 0) throw new Error(`The log store has no entry ${lo}`);
    return entries;
  }

  /**
   * Where a read from `lo` may stop (before `hi`) for its entries' sizes to stay within `maxBytes`
   * (at least one entry): only those rows are read. A follower far behind asks from the start of
   * a long log, and every append to it read the whole range to keep a megabyte of it (400 batch
   * entries, 72 MB, per append: the leader's event loop held for seconds).
   */
  #endWithin(lo: number, hi: number, maxBytes: number): number {
    const base = this.snapshot.index + 1;
    let end = lo + 1;
    let bytes = this.#sizes[lo - base];
    while (end < hi && bytes + this.#sizes[end - base] <= maxBytes) {
      bytes += this.#sizes[end++ - base];
    }
    return end;
  }

  /**
   * Drops whole entries from memory, oldest first, while the tail is over its budget: only
   * entries up to `persistedIndex` (the caller has them on disk, readable through the reader).
   */
  evict(persistedIndex: number): void {
    if (!this.reader) return;
    let drop = 0;
    while (
      drop < this.#tail.length && this.#tailBytes > this.memoryBytes &&
      this.#tail[drop].index <= persistedIndex
    ) {
      this.#tailBytes -= entryBytes(this.#tail[drop]);
      drop++;
    }
    if (drop === 0) return;
    this.#tail = this.#tail.slice(drop);
    this.#tailFrom += drop;
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The largest index <= `index` whose term is <= `term`: where a log that has `term` at
   * `index` can first agree with this one. Used by both sides of fast backtracking.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshot.index) {
      const t = this.term(i)!;
      if (t <= term) return i;
      i--;
    }
    return i;
  }

  /**
   * Appends `entries` that follow a matching prefix: entries already present with the same term
   * are kept, the first conflicting one and everything after it are replaced (§5.3).
   * Returns the index from which the log changed (lastIndex + 1 when nothing changed).
   */
  appendAfterMatch(entries: readonly Entry[]): number {
    let k = 0;
    while (k < entries.length) {
      const e = entries[k];
      if (e.index <= this.snapshot.index) {
        k++;
        continue;
      }
      if (this.term(e.index) !== e.term) break;
      k++;
    }
    if (k === entries.length) return this.lastIndex() + 1;
    const from = entries[k].index;
    this.truncateFrom(from);
    for (; k < entries.length; k++) this.#push(entries[k]);
    return from;
  }

  /** Appends entries that start exactly at lastIndex + 1 (the leader's own proposals). */
  appendNew(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1) {
        throw new RangeError(`Entry ${e.index} does not follow last index ${this.lastIndex()}`);
      }
      this.#push(e);
    }
  }

  /** Drops every entry with index >= `from`. */
  truncateFrom(from: number): void {
    if (from <= this.snapshot.index) throw new RangeError("Cannot truncate into the snapshot");
    const keep = Math.max(0, from - this.snapshot.index - 1);
    for (let k = keep; k < this.#sizes.length; k++) this.#bytes -= this.#sizes[k];
    this.#terms.length = Math.min(this.#terms.length, keep);
    this.#sizes.length = this.#terms.length;
    this.#confs = this.#confs.filter((e) => e.index < from);
    if (from < this.#tailFrom) {
      // The tail began after the cut: what remains of the log is all on disk.
      this.#tail = [];
      this.#tailBytes = 0;
      this.#tailFrom = this.lastIndex() + 1;
      return;
    }
    const tailKeep = from - this.#tailFrom;
    for (let k = tailKeep; k < this.#tail.length; k++) this.#tailBytes -= entryBytes(this.#tail[k]);
    this.#tail.length = Math.min(this.#tail.length, tailKeep);
  }

  /** Forgets entries up to and including `meta.index`, which a snapshot now covers. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.snapshot.index) return;
    if (meta.index > this.lastIndex()) throw new RangeError("Cannot compact beyond the log");
    const drop = meta.index - this.snapshot.index;
    for (let k = 0; k < drop; k++) this.#bytes -= this.#sizes[k];
    this.#terms = this.#terms.slice(drop);
    this.#sizes = this.#sizes.slice(drop);
    this.#confs = this.#confs.filter((e) => e.index > meta.index);
    if (meta.index >= this.#tailFrom) {
      const tailDrop = meta.index - this.#tailFrom + 1;
      for (let k = 0; k < tailDrop; k++) this.#tailBytes -= entryBytes(this.#tail[k]);
      this.#tail = this.#tail.slice(tailDrop);
      this.#tailFrom = meta.index + 1;
    }
    this.snapshot = meta;
  }

  /** Replaces the whole log with an installed snapshot. */
  restore(meta: SnapshotMeta): void {
    this.snapshot = meta;
    this.#terms = [];
    this.#sizes = [];
    this.#bytes = 0;
    this.#tail = [];
    this.#tailBytes = 0;
    this.#tailFrom = meta.index + 1;
    this.#confs = [];
  }
}
