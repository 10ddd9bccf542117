// Durable Raft state in SQLite: the log, the hard state and which snapshot image covers it.

import { sql } from "kysely";
import {
  type ConfChange,
  emptySnapshot,
  type Entry,
  entryBytes,
  type EntryKind,
  type HardState,
  type Membership,
  NONE,
  type SnapshotMeta,
} from "../raft/mod.ts";
import { parseSnapshotMeta } from "../raft/validate.ts";
import { BulkInsert } from "./bulk_insert.ts";
import { crc32Parts, crc32Strings } from "./checksum.ts";
import type { Database } from "./database.ts";
import { prepare } from "./prepared.ts";
import { StorageFatalError } from "./errors.ts";
import type { RaftLogTable } from "./schema.ts";
import type { Statement } from "./state_image.ts";
import { decodeUtf8 } from "../utf8.ts";

/** What one Ready asks to be made durable, written in one transaction. */
export interface PersistBatch {
  hardState: HardState | null;
  entries: readonly Entry[];
}

/** A snapshot image file in the data directory's snapshots/ folder. */
export interface StoredImage {
  /** The file's name inside snapshots/. */
  name: string;
  bytes: number;
  sha256: string;
}

export interface LoadedState {
  hardState: HardState;
  snapshot: SnapshotMeta;
  entries: Entry[];
  /** The image followers behind the log are sent, when one was made (see imageMeta). */
  image: SnapshotMeta | null;
}

/**
 * A compaction leaves the rows it covers; each later write deletes at most this many of them, and
 * about coveredBytesPerWrite of their data (at least one row): deleting 100,000 rows at once held
 * the event loop for 120-140 ms (deno task bench --only storage), and rows of 150 KB cost about 90
 * µs each (their overflow pages are read to be freed).
 */
const coveredRowsPerWrite = 256;
const coveredBytesPerWrite = 1024 * 1024;

export function entryChecksum(e: Entry): number {
  return crc32Parts(checksummed(e));
}

/** An entry's columns as its checksum covers them (data as text or as its UTF-8: the same CRC). */
function checksummed(e: Entry): (string | Uint8Array)[] {
  return [
    String(e.index),
    String(e.term),
    e.kind,
    e.data,
    e.change ? JSON.stringify(e.change) : "",
  ];
}

/** Whether `checksum` is `e`'s, as this version writes it or as earlier versions did. */
function checksumHolds(e: Entry, checksum: number): boolean {
  const parts = checksummed(e);
  if (crc32Parts(parts) === checksum) return true;
  const texts = parts.map((p) => typeof p === "string" ? p : decodeUtf8(p, true) ?? "");
  return crc32Strings(texts) === checksum;
}

function toRow(e: Entry): RaftLogTable {
  return {
    idx: e.index,
    term: e.term,
    kind: e.kind,
    data: e.data,
    change: e.change ? JSON.stringify(e.change) : null,
    checksum: entryChecksum(e),
  };
}

/** A row's values in raft_log's column order, as Kysely lays out INSERT parameters. */
function rowParams(r: RaftLogTable): unknown[] {
  return [r.idx, r.term, r.kind, r.data, r.change, r.checksum];
}

function fromRow(row: RaftLogTable): Entry {
  const entry: Entry = {
    index: row.idx,
    term: row.term,
    kind: row.kind as EntryKind,
    data: row.data,
  };
  if (row.change !== null) entry.change = JSON.parse(row.change) as ConfChange;
  if (!checksumHolds(entry, row.checksum)) {
    throw new StorageFatalError(
      `raft log entry ${row.idx} fails its checksum: the data directory is damaged; restore it from a backup, or remove this node's data directory and rejoin it`,
    );
  }
  return entry;
}

/** The log after `snapshot` must be gap-free with terms that never go back. */
function checkContiguous(
  snapshot: SnapshotMeta,
  entries: readonly { index: number; term: number }[],
): void {
  let prevTerm = snapshot.term;
  for (let k = 0; k < entries.length; k++) {
    if (entries[k].index !== snapshot.index + 1 + k) {
      throw new StorageFatalError(
        `raft log has a hole before entry ${entries[k].index}: the data directory is damaged`,
      );
    }
    if (entries[k].term < prevTerm) {
      throw new StorageFatalError(`raft log term goes back at entry ${entries[k].index}`);
    }
    prevTerm = entries[k].term;
  }
}

export class RaftStorage {
  readonly #db: Database;
  readonly #insertLog: BulkInsert<RaftLogTable>;
  /** The statements every Ready runs, built by Kysely once (see prepared.ts). */
  readonly #q;
  /** Rows at or below this index are covered by the snapshot (null: not read yet). */
  #coveredThrough: number | null = null;
  /** Whether covered rows may be left to delete. */
  #coveredLeft = true;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#insertLog = new BulkInsert((rows) => k.insertInto("raft_log").values(rows), rowParams);
    this.#q = {
      truncateFrom: prepare(["from"], (p) => k.deleteFrom("raft_log").where("idx", ">=", p.from)),
      saveHardState: prepare(["term", "vote", "commit"], (p) =>
        k.insertInto("raft_hard_state")
          .values({ id: 1, term: p.term, vote: p.vote, commit_index: p.commit })
          .onConflict((oc) =>
            oc.column("id").doUpdateSet({ term: p.term, vote: p.vote, commit_index: p.commit })
          )),
      // (the covered rows a write deletes: see #deleteSomeCovered)
      oldestCovered: prepare(
        ["through"],
        (p) =>
          k.selectFrom("raft_log").select("idx").select(sql<number>`octet_length(data)`.as("bytes"))
            .where("idx", "<=", p.through).orderBy("idx").limit(coveredRowsPerWrite),
      ),
      deleteThrough: prepare(
        ["through"],
        (p) => k.deleteFrom("raft_log").where("idx", "<=", p.through),
      ),
    };
  }

  get #k() {
    return this.#db.kysely;
  }

  get #c() {
    return this.#db.conn;
  }

  // ------------------------------------------------------------ identity

  getMeta(key: string): string | undefined {
    return this.#c.first(this.#k.selectFrom("node_meta").select("value").where("key", "=", key))
      ?.value;
  }

  deleteMeta(key: string): void {
    this.#db.transaction(() => this.#c.run(this.#k.deleteFrom("node_meta").where("key", "=", key)));
  }

  setMeta(key: string, value: string): void {
    this.#db.transaction(() => {
      this.#c.run(
        this.#k.insertInto("node_meta").values({ key, value }).onConflict((oc) =>
          oc.column("key").doUpdateSet({ value })
        ),
      );
    });
  }

  // ------------------------------------------------------------ load

  /** Everything a core starts from; checksums and contiguity verified. */
  /** The hard state, the snapshot and every entry after it (`limit`: at most that many). */
  load(limit = Infinity): LoadedState {
    const snapshot = this.snapshotMeta();
    const hs = this.#c.first(this.#k.selectFrom("raft_hard_state").selectAll());
    const last = this.#c.first(
      this.#k.selectFrom("raft_log").select((eb) => eb.fn.max<number | null>("idx").as("i")),
    )?.i ?? snapshot.index;
    const entries = limit === 0 ? [] : this.entries(snapshot.index + 1, last + 1).slice(0, limit);
    if (limit !== 0) checkContiguous(snapshot, entries);
    const lastIndex = Math.max(snapshot.index, last);
    const hardState: HardState = hs
      ? { term: hs.term, vote: hs.vote, commit: Math.min(hs.commit_index, lastIndex) }
      : { term: 0, vote: NONE, commit: 0 };
    return { hardState, snapshot, entries, image: this.imageMeta() };
  }

  /**
   * What a restart needs with memory bounded: the term and size of every entry after the
   * snapshot, its conf entries, and only the newest entries whole, up to `memoryBytes` (the core
   * reads older ones through entries() when a follower needs them).
   */
  loadBounded(memoryBytes: number): LoadedState & {
    terms: number[];
    sizes: number[];
    confs: Entry[];
  } {
    const { hardState, snapshot, image } = this.load(0);
    // octet_length takes a row's size from its header; length() read every entry's text whole
    // (170-210 ms at start-up for 150 MB of batch entries, against 45-55). It counts UTF-8 bytes,
    // at least entryBytes' UTF-16 units for any text: the bounds it feeds err on the safe side.
    const rows = this.#c.all(
      this.#k.selectFrom("raft_log").select(["idx", "term"])
        .select(sql<number>`octet_length(data)`.as("bytes")).where("idx", ">", snapshot.index)
        .orderBy("idx"),
    );
    const terms = rows.map((r) => r.term);
    const sizes = rows.map((r) => Number(r.bytes) + 32);
    checkContiguous(snapshot, rows.map((r) => ({ index: r.idx, term: r.term })));
    const confs = this.#c.all(
      this.#k.selectFrom("raft_log").selectAll().where("idx", ">", snapshot.index)
        .where("kind", "=", "conf").orderBy("idx"),
    ).map(fromRow);
    let k = sizes.length;
    for (let kept = 0; k > 0 && kept + sizes[k - 1] <= memoryBytes; k--) kept += sizes[k - 1];
    const last = snapshot.index + rows.length;
    const entries = this.entries(snapshot.index + 1 + k, last + 1);
    return { hardState, snapshot, entries, image, terms, sizes, confs };
  }

  /** Entries in [lo, hi), at most `maxBytes` of data (at least one entry), checksums verified. */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    // (Rows are read in bounded pages: a far-behind follower's range may be the whole log.)
    const rows = this.#c.all(
      this.#k.selectFrom("raft_log").selectAll().where("idx", ">=", lo).where("idx", "<", hi)
        .orderBy("idx").limit(
          maxBytes === Infinity ? Math.max(0, hi - lo) : Math.min(hi - lo, 4096),
        ),
    );
    const out: Entry[] = [];
    let bytes = 0;
    for (const row of rows) {
      const entry = fromRow(row);
      bytes += entryBytes(entry); // as the core counts them
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** The term at `index`, or undefined when it is neither in the log nor the snapshot's. */
  term(index: number): number | undefined {
    const snap = this.snapshotMeta();
    if (index === snap.index) return snap.term;
    if (index < snap.index) return undefined; // a covered row may not be deleted yet
    return this.#c.first(this.#k.selectFrom("raft_log").select("term").where("idx", "=", index))
      ?.term;
  }

  firstIndex(): number {
    return this.snapshotMeta().index + 1;
  }

  lastIndex(): number {
    const snap = this.snapshotMeta();
    const row = this.#c.first(
      this.#k.selectFrom("raft_log").select((eb) => eb.fn.max("idx").as("last")),
    );
    return Math.max(snap.index, Number(row?.last ?? 0));
  }

  // ------------------------------------------------------------ write

  /**
   * Writes one Ready's entries (replacing any stored suffix from the first one on) and hard state
   * in one transaction (durable at its commit, or at the flush that follows it).
   */
  persist(batch: PersistBatch): void {
    if (batch.entries.length === 0 && batch.hardState === null) return;
    this.#db.transaction(() => {
      if (batch.entries.length > 0) this.#writeEntries(batch.entries);
      if (batch.hardState) this.#writeHardState(batch.hardState);
      this.#deleteSomeCovered();
    });
  }

  #writeEntries(entries: readonly Entry[]): void {
    this.#c.executeCompiled(this.#q.truncateFrom({ from: entries[0].index }));
    this.#insertLog.run(this.#c, entries.map(toRow));
  }

  #writeHardState(hs: HardState): void {
    this.#c.executeCompiled(
      this.#q.saveHardState({ term: hs.term, vote: hs.vote, commit: hs.commit }),
    );
  }

  /** The upsert of the row saying where the log starts. */
  #snapshotRow(meta: SnapshotMeta) {
    const update = {
      idx: meta.index,
      term: meta.term,
      membership: JSON.stringify(meta.membership),
      size_bytes: -1,
      checksum: 0,
    };
    return this.#k.insertInto("raft_snapshot").values({ id: 1, ...update })
      .onConflict((oc) => oc.column("id").doUpdateSet(update));
  }

  /**
   * What installing a received snapshot does to the log, run by the image installer inside its
   * transaction: the log starts at the snapshot and holds nothing (the Ready's entries, if any,
   * are written after), and there is no image (the received one becomes the node's file, or is
   * copied in and removed; a new one is made when a follower needs it).
   */
  installStatements(meta: SnapshotMeta): Statement[] {
    return [
      this.#snapshotRow(meta).compile(),
      this.#k.deleteFrom("raft_log").compile(),
      this.#k.deleteFrom("raft_image").compile(),
    ];
  }

  /** The tables an installed image starts without (installStatements empties them anyway). */
  static readonly emptiedByInstall: readonly string[] = ["raft_log", "raft_image"];

  /**
   * Records that `image` holds the state machine at `meta.index` (a FULL commit), in place of
   * any image before it. The log is left as it is.
   */
  saveSnapshotImage(meta: SnapshotMeta, image: StoredImage): void {
    const row = {
      idx: meta.index,
      term: meta.term,
      membership: JSON.stringify(meta.membership),
      name: image.name,
      size_bytes: image.bytes,
      sha256: image.sha256,
    };
    this.#db.transaction(() =>
      this.#c.run(
        this.#k.insertInto("raft_image").values({ id: 1, ...row })
          .onConflict((oc) => oc.column("id").doUpdateSet(row)),
      )
    );
  }

  /**
   * Compacts without copying the state machine: records that the log up to `meta.index` is
   * covered (the state machine in this same file holds it durably: this FULL commit makes every
   * earlier apply durable too, the WAL being sequential), and forgets an image older than that
   * (a follower installing it would still be behind the log). The covered log goes with later
   * writes (see #deleteSomeCovered). An image is made only when a follower needs one.
   */
  saveSnapshotMetaOnly(meta: SnapshotMeta): void {
    this.#db.transaction(() => {
      this.#c.run(this.#snapshotRow(meta));
      this.#c.run(this.#k.deleteFrom("raft_image").where("idx", "<", meta.index));
    });
    this.#covered(meta.index);
  }

  #covered(index: number): void {
    this.#coveredThrough = index;
    this.#coveredLeft = true;
  }

  /**
   * Inside a write's transaction: deletes the oldest covered rows, a bounded piece (see
   * coveredRowsPerWrite), so no turn of the event loop deletes a whole compaction's rows. Rows
   * not deleted yet are never read: every read starts after the snapshot, and a restart goes on
   * deleting them. (octet_length reads a row's size from its header, not its overflow pages.)
   */
  #deleteSomeCovered(): void {
    if (!this.#coveredLeft) return;
    const through = this.#coveredThrough ??= this.snapshotMeta().index;
    const rows = this.#c.executeCompiled<{ idx: number; bytes: number }>(
      this.#q.oldestCovered({ through }),
    ).rows;
    let taken = 0;
    for (let bytes = 0; taken < rows.length; taken++) {
      bytes += Number(rows[taken].bytes);
      if (taken > 0 && bytes > coveredBytesPerWrite) break;
    }
    if (taken > 0) {
      this.#c.executeCompiled(this.#q.deleteThrough({ through: rows[taken - 1].idx }));
    }
    this.#coveredLeft = taken < rows.length || rows.length === coveredRowsPerWrite;
  }

  // ------------------------------------------------------------ snapshots

  /** Where the log starts: the index, term and membership the state machine covers there. */
  snapshotMeta(): SnapshotMeta {
    const row = this.#c.first(this.#k.selectFrom("raft_snapshot").selectAll());
    return row ? metaOfRow(row) : emptySnapshot;
  }

  /** The image followers behind the log are sent, or null when none was made. */
  snapshotImage(): (StoredImage & { index: number }) | null {
    const row = this.#c.first(this.#k.selectFrom("raft_image").selectAll());
    if (!row) return null;
    return { index: row.idx, name: row.name, bytes: row.size_bytes, sha256: row.sha256 };
  }

  /** The index, term and membership the image holds, or null when none was made. */
  imageMeta(): SnapshotMeta | null {
    const row = this.#c.first(this.#k.selectFrom("raft_image").selectAll());
    return row ? metaOfRow(row) : null;
  }
}

/** A snapshot or image row's metadata, checked as any stored input is. */
function metaOfRow(row: { idx: number; term: number; membership: string }): SnapshotMeta {
  return parseSnapshotMeta({
    index: row.idx,
    term: row.term,
    membership: JSON.parse(row.membership) as Membership,
  });
}
