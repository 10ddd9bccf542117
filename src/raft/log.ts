// The in-memory Raft log: entries after the latest snapshot, with term look-ups and conflict search.

import { emptyMembership } from "./membership.ts";
import type { Entry, SnapshotMeta } from "./types.ts";

/** Rough byte size of an entry, for message and read budgets. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + (entry.change ? entry.change.id.length + entry.change.url.length : 0) +
    32;
}

export const emptySnapshot: SnapshotMeta = { index: 0, term: 0, membership: emptyMembership };

/**
 * Invariant: entries[k].index === snapshot.index + 1 + k, and terms never decrease along the log.
 * The entry at snapshot.index itself is gone; only its term is known (snapshot.term).
 */
export class RaftLog {
  snapshot: SnapshotMeta;
  entries: Entry[];

  constructor(snapshot: SnapshotMeta = emptySnapshot, entries: Entry[] = []) {
    for (let k = 0; k < entries.length; k++) {
      if (entries[k].index !== snapshot.index + 1 + k) {
        throw new RangeError(
          `Log entries are not contiguous after snapshot ${snapshot.index}: found index ${
            entries[k].index
          } at position ${k}`,
        );
      }
      const prevTerm = k === 0 ? snapshot.term : entries[k - 1].term;
      if (entries[k].term < prevTerm) {
        throw new RangeError(`Log term goes back at index ${entries[k].index}`);
      }
    }
    this.snapshot = snapshot;
    this.entries = entries;
  }

  /** The first index still held as an entry (snapshot.index + 1, even when the log is empty). */
  firstIndex(): number {
    return this.snapshot.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length > 0
      ? this.entries[this.entries.length - 1].term
      : this.snapshot.term;
  }

  /** The term at `index`, or undefined when it was compacted away or is beyond the log. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshot.index - 1].term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshot.index - 1];
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
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < end; i++) {
      const entry = this.entries[i - this.snapshot.index - 1];
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
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
    for (; k < entries.length; k++) this.entries.push(entries[k]);
    return from;
  }

  /** Appends entries that start exactly at lastIndex + 1 (the leader's own proposals). */
  appendNew(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1) {
        throw new RangeError(`Entry ${e.index} does not follow last index ${this.lastIndex()}`);
      }
      this.entries.push(e);
    }
  }

  /** Drops every entry with index >= `from`. */
  truncateFrom(from: number): void {
    if (from <= this.snapshot.index) throw new RangeError("Cannot truncate into the snapshot");
    this.entries.length = Math.max(0, from - this.snapshot.index - 1);
  }

  /** Forgets entries up to and including `meta.index`, which a snapshot now covers. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.snapshot.index) return;
    if (meta.index > this.lastIndex()) throw new RangeError("Cannot compact beyond the log");
    this.entries = this.entries.slice(meta.index - this.snapshot.index);
    this.snapshot = meta;
  }

  /** Replaces the whole log with an installed snapshot. */
  restore(meta: SnapshotMeta): void {
    this.snapshot = meta;
    this.entries = [];
  }
}
