// The production LogStore: the Raft log in SQLite, written without an fsync, flushed off the loop.

import type { LogStore } from "../node/ports.ts";
import type { Ready, SnapshotMeta } from "../raft/mod.ts";
import type { Database } from "./database.ts";
import type { RaftStorage } from "./raft_storage.ts";

/**
 * A Ready is one transaction committed with synchronous=NORMAL (no fsync); flush() is an
 * fdatasync of the WAL on a runtime thread (Database.flushWal), the very fsync FULL would do
 * inside COMMIT, without blocking the event loop. Snapshots and compaction are rare and written
 * with FULL, durable when they return.
 */
export class SqliteLogStore implements LogStore {
  constructor(readonly db: Database, readonly storage: RaftStorage) {}

  write(
    rd: Ready,
    restore: (data: Uint8Array, meta: SnapshotMeta) => void,
    alongside: () => void,
  ): void {
    this.db.setSynchronous(false);
    this.db.transaction(() => {
      this.storage.persist(rd, restore);
      alongside();
    });
  }

  flush(done: (error?: Error) => void): void {
    this.db.flushWal().then(() => done(), (error) => done(error));
  }

  readSnapshotChunk(index: number, offset: number, maxBytes: number) {
    return this.storage.readSnapshotChunk(index, offset, maxBytes);
  }

  snapshotMaterialized(): boolean {
    return this.storage.snapshotMaterialized();
  }

  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.db.setSynchronous(true);
    this.storage.saveSnapshot(meta, data);
  }

  compact(meta: SnapshotMeta): void {
    this.db.setSynchronous(true);
    this.storage.saveSnapshotMetaOnly(meta);
  }
}
