// Durable Raft state in SQLite: the log, hard state, snapshots and incoming snapshot chunks.

import { type CompiledQuery, sql } from "kysely";
import {
  type ConfChange,
  emptySnapshot,
  type Entry,
  entryBytes,
  type EntryKind,
  type HardState,
  type Membership,
  NONE,
  type SnapshotChunk,
  type SnapshotMeta,
} from "../raft/mod.ts";
import { parseSnapshotMeta } from "../raft/validate.ts";
import { crc32, crc32Strings } from "./checksum.ts";
import type { Database } from "./database.ts";
import { prepare } from "./prepared.ts";
import { StorageFatalError } from "./errors.ts";
import type { RaftLogTable } from "./schema.ts";

/** What one Ready asks to be made durable, written in one transaction. */
export interface PersistBatch {
  hardState: HardState | null;
  entries: readonly Entry[];
  snapshotChunks: readonly SnapshotChunk[];
  /** A received snapshot to install: it replaces the whole log. */
  snapshot: SnapshotMeta | null;
}

/** Restores the state machine from snapshot bytes, inside the install transaction. */
export type RestoreStateMachine = (data: Uint8Array, meta: SnapshotMeta) => void;

export interface LoadedState {
  hardState: HardState;
  snapshot: SnapshotMeta;
  entries: Entry[];
}

/** Bytes per stored row of a snapshot this node took itself. */
const snapshotRowBytes = 256 * 1024;
/** Log rows deleted per transaction when compacting, so no single transaction grows unbounded. */
const compactionChunkRows = 10_000;
/** Row counts of the multi-row INSERTs: a batch is split into these, so few SQL texts exist. */
const insertSizes = [256, 64, 8, 1] as const;

export function entryChecksum(e: Entry): number {
  return crc32Strings([
    String(e.index),
    String(e.term),
    e.kind,
    e.data,
    e.change ? JSON.stringify(e.change) : "",
  ]);
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
  if (entryChecksum(entry) !== row.checksum) {
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
  readonly #inserts = new Map<number, CompiledQuery>();
  /** The statements every Ready runs, built by Kysely once (see prepared.ts). */
  readonly #q;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#q = {
      truncateFrom: prepare(["from"], (p) => k.deleteFrom("raft_log").where("idx", ">=", p.from)),
      saveHardState: prepare(["term", "vote", "commit"], (p) =>
        k.insertInto("raft_hard_state")
          .values({ id: 1, term: p.term, vote: p.vote, commit_index: p.commit })
          .onConflict((oc) =>
            oc.column("id").doUpdateSet({ term: p.term, vote: p.vote, commit_index: p.commit })
          )),
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
    return { hardState, snapshot, entries };
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
    const { hardState, snapshot } = this.load(0);
    const rows = this.#c.all(
      this.#k.selectFrom("raft_log").select(["idx", "term"])
        .select(sql<number>`length(data)`.as("bytes")).where("idx", ">", snapshot.index)
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
    return { hardState, snapshot, entries, terms, sizes, confs };
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
   * Writes one Ready in one transaction (durable at its commit, or at the flush that follows
   * it): snapshot chunks, an installed snapshot (with the state machine restored by `restore` in
   * the same transaction), entries (replacing any stored suffix from the first one on), then the
   * hard state.
   */
  persist(batch: PersistBatch, restore?: RestoreStateMachine): void {
    if (
      batch.entries.length === 0 && batch.hardState === null && batch.snapshot === null &&
      batch.snapshotChunks.length === 0
    ) {
      return;
    }
    this.#db.transaction(() => {
      for (const chunk of batch.snapshotChunks) this.#writeIncomingChunk(chunk);
      if (batch.snapshot) this.#install(batch.snapshot, restore);
      if (batch.entries.length > 0) this.#writeEntries(batch.entries);
      if (batch.hardState) this.#writeHardState(batch.hardState);
    });
  }

  #writeEntries(entries: readonly Entry[]): void {
    this.#c.executeCompiled(this.#q.truncateFrom({ from: entries[0].index }));
    let at = 0;
    while (at < entries.length) {
      const size = insertSizes.find((n) => n <= entries.length - at)!;
      const rows = entries.slice(at, at + size).map(toRow);
      this.#c.executeCompiled({ ...this.#insertFor(rows), parameters: rows.flatMap(rowParams) });
      at += size;
    }
  }

  /**
   * The compiled multi-row INSERT for `rows.length` rows, built by Kysely once per size and then
   * reused with new parameters, so the hot path neither builds nor compiles SQL.
   */
  #insertFor(rows: RaftLogTable[]): CompiledQuery {
    let compiled = this.#inserts.get(rows.length);
    if (!compiled) {
      compiled = this.#k.insertInto("raft_log").values(rows).compile();
      const expected = rows.flatMap(rowParams);
      if (
        compiled.parameters.length !== expected.length ||
        compiled.parameters.some((p, i) => p !== expected[i])
      ) {
        throw new Error("raft_log INSERT parameters are not in row-major column order");
      }
      this.#inserts.set(rows.length, compiled);
    }
    return compiled;
  }

  #writeHardState(hs: HardState): void {
    this.#c.executeCompiled(
      this.#q.saveHardState({ term: hs.term, vote: hs.vote, commit: hs.commit }),
    );
  }

  #writeIncomingChunk(chunk: SnapshotChunk): void {
    if (chunk.offset === 0) {
      this.#c.run(this.#k.deleteFrom("raft_incoming_chunk"));
      const meta = {
        id: 1,
        idx: chunk.meta.index,
        term: chunk.meta.term,
        membership: JSON.stringify(chunk.meta.membership),
      };
      this.#c.run(
        this.#k.insertInto("raft_incoming").values(meta).onConflict((oc) =>
          oc.column("id").doUpdateSet({
            idx: meta.idx,
            term: meta.term,
            membership: meta.membership,
          })
        ),
      );
    }
    this.#c.run(
      this.#k.insertInto("raft_incoming_chunk").values({ offset: chunk.offset, data: chunk.data })
        .onConflict((oc) => oc.column("offset").doUpdateSet({ data: chunk.data })),
    );
  }

  #install(meta: SnapshotMeta, restore?: RestoreStateMachine): void {
    const incoming = this.#c.first(this.#k.selectFrom("raft_incoming").selectAll());
    if (!incoming || incoming.idx !== meta.index || incoming.term !== meta.term) {
      throw new StorageFatalError(
        `asked to install snapshot ${meta.index} but the chunks received are for another`,
      );
    }
    const data = this.#assemble("raft_incoming_chunk");
    restore?.(data, meta);
    this.#c.run(this.#k.deleteFrom("raft_snapshot_chunk"));
    this.#c.run(
      this.#k.insertInto("raft_snapshot_chunk").columns(["offset", "data"]).expression(
        this.#k.selectFrom("raft_incoming_chunk").select(["offset", "data"]),
      ),
    );
    this.#writeSnapshotMeta(meta, data);
    this.#c.run(this.#k.deleteFrom("raft_incoming_chunk"));
    this.#c.run(this.#k.deleteFrom("raft_incoming"));
    this.#c.run(this.#k.deleteFrom("raft_log"));
  }

  /** Concatenates a chunk table, checking the chunks leave no gap. */
  #assemble(table: "raft_incoming_chunk" | "raft_snapshot_chunk"): Uint8Array {
    const rows = this.#c.all(this.#k.selectFrom(table).selectAll().orderBy("offset"));
    let size = 0;
    for (const row of rows) {
      if (row.offset !== size) {
        throw new StorageFatalError(`snapshot chunks leave a gap at byte ${size}`);
      }
      size += row.data.length;
    }
    const data = new Uint8Array(size);
    for (const row of rows) data.set(row.data, row.offset);
    return data;
  }

  /** `data` null: the bytes are not materialized (size_bytes -1). */
  #writeSnapshotMeta(meta: SnapshotMeta, data: Uint8Array | null): void {
    const row = {
      id: 1,
      idx: meta.index,
      term: meta.term,
      membership: JSON.stringify(meta.membership),
      size_bytes: data === null ? -1 : data.length,
      checksum: data === null ? 0 : crc32(data),
    };
    this.#c.run(
      this.#k.insertInto("raft_snapshot").values(row).onConflict((oc) =>
        oc.column("id").doUpdateSet({
          idx: row.idx,
          term: row.term,
          membership: row.membership,
          size_bytes: row.size_bytes,
          checksum: row.checksum,
        })
      ),
    );
  }

  /**
   * Stores a snapshot this node took of its own state machine at `meta.index`, then deletes the
   * log it covers in bounded chunks (one transaction each). A crash in between leaves covered
   * entries behind, which load() ignores and the next compaction deletes.
   */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.#db.transaction(() => {
      this.#c.run(this.#k.deleteFrom("raft_snapshot_chunk"));
      for (let offset = 0; offset < data.length || offset === 0; offset += snapshotRowBytes) {
        const part = data.subarray(offset, offset + snapshotRowBytes);
        this.#c.run(this.#k.insertInto("raft_snapshot_chunk").values({ offset, data: part }));
        if (data.length === 0) break;
      }
      this.#writeSnapshotMeta(meta, data);
    });
    this.deleteLogThrough(meta.index);
  }

  /**
   * Compacts without copying the state machine: records that the log up to `meta.index` is
   * covered (the state machine in this same file holds it durably: this FULL commit makes every
   * earlier apply durable too, the WAL being sequential), marks the snapshot's bytes as not yet
   * materialized, then deletes the covered log. Bytes are made only when a follower needs them.
   */
  saveSnapshotMetaOnly(meta: SnapshotMeta): void {
    this.#db.transaction(() => {
      this.#c.run(this.#k.deleteFrom("raft_snapshot_chunk"));
      this.#writeSnapshotMeta(meta, null);
    });
    this.deleteLogThrough(meta.index);
  }

  /** Whether the latest snapshot's bytes exist (not only its metadata). */
  snapshotMaterialized(): boolean {
    const row = this.#c.first(this.#k.selectFrom("raft_snapshot").select("size_bytes"));
    return row !== undefined && row.size_bytes >= 0;
  }

  /** Deletes entries with index <= `index`, at most compactionChunkRows per transaction. */
  deleteLogThrough(index: number): void {
    for (;;) {
      const first = this.#c.first(
        this.#k.selectFrom("raft_log").select((eb) => eb.fn.min("idx").as("first")),
      )?.first;
      if (first === null || first === undefined || Number(first) > index) return;
      const upto = Math.min(index, Number(first) + compactionChunkRows - 1);
      this.#db.transaction(() => {
        this.#c.run(this.#k.deleteFrom("raft_log").where("idx", "<=", upto));
      });
    }
  }

  // ------------------------------------------------------------ snapshots

  snapshotMeta(): SnapshotMeta {
    const row = this.#c.first(this.#k.selectFrom("raft_snapshot").selectAll());
    if (!row) return emptySnapshot;
    return parseSnapshotMeta({
      index: row.idx,
      term: row.term,
      membership: JSON.parse(row.membership) as Membership,
    });
  }

  /** The whole stored snapshot, checksum verified; null when none was taken or materialized. */
  snapshotData(): Uint8Array | null {
    const row = this.#c.first(this.#k.selectFrom("raft_snapshot").selectAll());
    if (!row || row.size_bytes < 0) return null;
    const data = this.#assemble("raft_snapshot_chunk");
    if (data.length !== row.size_bytes || crc32(data) !== row.checksum) {
      throw new StorageFatalError(
        `snapshot ${row.idx} fails its checksum: the data directory is damaged`,
      );
    }
    return data;
  }

  /** Reads [offset, offset + maxBytes) of snapshot `index` (the core's SnapshotReader). */
  readSnapshotChunk(
    index: number,
    offset: number,
    maxBytes: number,
  ): { data: Uint8Array; done: boolean } | null {
    const meta = this.#c.first(this.#k.selectFrom("raft_snapshot").select(["idx", "size_bytes"]));
    if (!meta || meta.idx !== index || meta.size_bytes < 0) return null;
    const end = Math.min(offset + maxBytes, meta.size_bytes);
    const rows = this.#c.all(
      this.#k.selectFrom("raft_snapshot_chunk").selectAll()
        .where("offset", "<", Math.max(end, offset + 1))
        .where(sql<number>`"offset" + length("data")`, ">", offset)
        .orderBy("offset"),
    );
    const out = new Uint8Array(Math.max(0, end - offset));
    for (const row of rows) {
      const from = Math.max(offset, row.offset);
      const to = Math.min(end, row.offset + row.data.length);
      if (to > from) out.set(row.data.subarray(from - row.offset, to - row.offset), from - offset);
    }
    return { data: out, done: end >= meta.size_bytes };
  }
}
