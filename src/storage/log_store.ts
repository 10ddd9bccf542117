// The production LogStore: the Raft log in SQLite, flushed off the loop; snapshots as image files.

import { dirname, join } from "node:path";
import { releaseBuffer } from "../buffers.ts";
import type { LogStore } from "../node/ports.ts";
import type { Ready, SnapshotChunk, SnapshotMeta } from "../raft/mod.ts";
import type { Database } from "./database.ts";
import { StorageFatalError } from "./errors.ts";
import { type ImageInstall, type ImageSteps, workerSteps } from "./image_worker.ts";
import { schemaVersion } from "./migrations.ts";
import { RaftStorage, type StoredImage } from "./raft_storage.ts";
import { type ImageFacts, imageTrailer, readTrailer, trailerBytes } from "./state_image.ts";

/** The folder of a data directory that holds snapshot images. */
export const snapshotsFolder = "snapshots";
const incomingName = "incoming.part";
/**
 * A received image is synced every this many bytes: unsynced, the whole image was flushed at
 * once by the install's check, a burst that stalled every other fsync on the disk.
 */
const incomingSyncBytes = 8 * 1024 * 1024;

/**
 * A Ready is one transaction committed with synchronous=NORMAL (no fsync); flush() is an
 * fdatasync of the WAL on a runtime thread (Database.flushWal), the very fsync FULL would do
 * inside COMMIT, without blocking the event loop. Compaction is rare and written with FULL.
 *
 * Snapshots are SQLite files in snapshots/ holding the state tables (state_image.ts), made and
 * installed by `steps` (worker threads). One is current: snap-INDEX-TERM.db, named by the
 * image row. Sent, it is followed by a trailer with its length and SHA-256; received, it is
 * written to incoming.part as it arrives (synced every 8 MiB to spread the disk's work, not for
 * durability: after a crash the leader starts over), checked, completed with the node's own tables
 * and swapped in as the node's database file (Database.swapIn), or copied in when it cannot be.
 */
export class SqliteLogStore implements LogStore {
  /** Where images go: snapshots/ beside the database (an in-memory one has none). */
  readonly dir: string;
  #incoming: {
    file: Deno.FsFile;
    index: number;
    term: number;
    unsynced: number;
    syncing: boolean;
  } | null = null;
  #captured: { path: string; facts: ImageFacts } | null = null;
  #reading: { name: string; file: Deno.FsFile } | null = null;

  /**
   * `releaseChunks`: a received chunk's buffer (the frame decoder's copy) is let go once written
   * (see releaseBuffer) — for a node's own store, not the simulator's, whose nodes share message
   * objects.
   */
  constructor(
    readonly db: Database,
    readonly storage: RaftStorage,
    readonly steps: ImageSteps = workerSteps,
    readonly releaseChunks = false,
  ) {
    this.dir = db.path === ":memory:" ? "" : join(dirname(db.path), snapshotsFolder);
    if (this.dir === "") return;
    Deno.mkdirSync(this.dir, { recursive: true });
    this.#removeStrays();
  }

  /** Files left by a crash: a half-received snapshot, a capture, an image no longer current. */
  #removeStrays(): void {
    const current = this.storage.snapshotImage()?.name;
    for (const e of Deno.readDirSync(this.dir)) {
      if (e.name !== current) Deno.removeSync(join(this.dir, e.name));
    }
  }

  write(rd: Ready, alongside: () => void): void {
    this.#writeChunks(rd.snapshotChunks);
    this.db.setSynchronous(false);
    this.db.transaction(() => {
      this.storage.persist(rd);
      alongside();
    });
  }

  flush(done: (error?: Error) => void): void {
    this.db.flushWal().then(() => done(), (error) => done(error));
  }

  #writeChunks(chunks: readonly SnapshotChunk[]): void {
    for (const chunk of chunks) {
      if (chunk.offset === 0) {
        this.#incoming?.file.close();
        const file = Deno.openSync(join(this.dir, incomingName), {
          read: true,
          write: true,
          create: true,
          truncate: true,
        });
        const { index, term } = chunk.meta;
        this.#incoming = { file, index, term, unsynced: 0, syncing: false };
      }
      const inc = this.#incoming;
      if (!inc || inc.index !== chunk.meta.index || inc.term !== chunk.meta.term) {
        throw new StorageFatalError(`snapshot chunk at ${chunk.offset} of a snapshot not begun`);
      }
      inc.file.seekSync(chunk.offset, Deno.SeekMode.Start);
      let at = 0;
      while (at < chunk.data.length) at += inc.file.writeSync(chunk.data.subarray(at));
      inc.unsynced += chunk.data.length;
      if (this.releaseChunks) releaseBuffer(chunk.data);
      if (inc.unsynced >= incomingSyncBytes && !inc.syncing) {
        // On a runtime thread, not the loop. Its outcome does not matter: the install's check
        // syncs the whole file before it is used, and reports a failure then.
        inc.unsynced = 0;
        inc.syncing = true;
        inc.file.syncData().catch(() => {}).finally(() => (inc.syncing = false));
      }
    }
  }

  install(meta: SnapshotMeta, chunks: readonly SnapshotChunk[], done: (error?: Error) => void) {
    let image: StoredImage;
    try {
      this.#writeChunks(chunks);
      image = this.#takeIncoming(meta);
    } catch (err) {
      return done(err as Error);
    }
    const path = join(this.dir, image.name);
    const install: ImageInstall = {
      expected: { bytes: image.bytes, sha256: image.sha256, version: schemaVersion },
      index: meta.index,
      finish: this.storage.installStatements(meta),
      emptyTables: [...RaftStorage.emptiedByInstall],
    };
    const failed = (error: Error) => {
      try {
        Deno.removeSync(path); // now: a retry of the same snapshot reuses the name
      } catch {
        // already gone
      }
      done(new StorageFatalError(`installing snapshot ${meta.index}: ${error.message}`));
    };
    const installed = () => {
      this.#forgetOthers(null); // the image is this node's file now, or was copied in
      done();
    };
    this.steps.prepare(this.db.path, path, install, (error) => {
      if (error) return failed(error);
      this.db.swapIn(path, (error, swapped) => {
        if (error) return failed(error);
        if (swapped) return installed();
        this.steps.install(this.db.path, path, install, (e) => e ? failed(e) : installed());
      });
    });
  }

  /** The received file, renamed to its image name (new chunks start a new file), as its trailer says. */
  #takeIncoming(meta: SnapshotMeta): StoredImage {
    const inc = this.#incoming;
    if (!inc || inc.index !== meta.index || inc.term !== meta.term) {
      throw new StorageFatalError(`asked to install snapshot ${meta.index}, not the one received`);
    }
    this.#incoming = null;
    const size = inc.file.statSync().size;
    const trailer = new Uint8Array(trailerBytes);
    if (size >= trailerBytes) {
      inc.file.seekSync(size - trailerBytes, Deno.SeekMode.Start);
      let got = 0;
      while (got < trailerBytes) got += inc.file.readSync(trailer.subarray(got)) ?? trailerBytes;
    }
    inc.file.close();
    const facts = readTrailer(trailer);
    if (!facts) {
      throw new StorageFatalError(
        `installing snapshot ${meta.index}: the received file has no valid trailer, it is not a raftq image`,
      );
    }
    const name = `snap-${meta.index}-${meta.term}.db`;
    Deno.renameSync(join(this.dir, incomingName), join(this.dir, name));
    return { name, ...facts }; // checked against the bytes by the install step
  }

  readSnapshotChunk(index: number, offset: number, maxBytes: number) {
    const image = this.storage.snapshotImage();
    if (!image || image.index !== index) return null;
    if (this.#reading?.name !== image.name) {
      this.#reading?.file.close();
      try {
        this.#reading = { name: image.name, file: Deno.openSync(join(this.dir, image.name)) };
      } catch {
        this.#reading = null;
        return null; // the file is gone: the node makes a new image when a follower asks
      }
    }
    const total = image.bytes + trailerBytes;
    const end = Math.min(offset + maxBytes, total);
    const out = new Uint8Array(Math.max(0, end - offset));
    const fromFile = Math.max(0, Math.min(end, image.bytes) - offset);
    const file = this.#reading!.file;
    file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < fromFile) {
      const n = file.readSync(out.subarray(got, fromFile));
      if (n === null || n === 0) return null;
      got += n;
    }
    if (end > image.bytes) {
      const trailer = imageTrailer(image.bytes, image.sha256);
      const from = Math.max(offset, image.bytes) - image.bytes;
      out.set(trailer.subarray(from, end - image.bytes), fromFile);
    }
    return { data: out, done: end >= total };
  }

  hasImage(index: number): boolean {
    return this.storage.snapshotImage()?.index === index;
  }

  capture(done: (error: Error | null, index: number) => void): void {
    if (this.dir === "") return done(new Error("an in-memory database makes no snapshots"), 0);
    const path = join(this.dir, `capture-${crypto.randomUUID()}.db`);
    this.steps.capture(this.db.path, path, schemaVersion, (error, facts) => {
      if (error || !facts) {
        try {
          Deno.removeSync(path);
        } catch {
          // never made
        }
        return done(error ?? new Error("the capture made nothing"), 0);
      }
      this.#captured = { path, facts };
      done(null, facts.index);
    });
  }

  saveSnapshot(meta: SnapshotMeta): void {
    const c = this.#captured;
    if (!c || c.facts.index !== meta.index) {
      throw new Error(`no capture at ${meta.index} to adopt`);
    }
    this.#captured = null;
    const name = `snap-${meta.index}-${meta.term}.db`;
    Deno.renameSync(c.path, join(this.dir, name));
    this.db.setSynchronous(true);
    this.storage.saveSnapshotImage(meta, { name, bytes: c.facts.bytes, sha256: c.facts.sha256 });
    this.#forgetOthers(name);
  }

  discardCapture(): void {
    if (this.#captured) Deno.removeSync(this.#captured.path);
    this.#captured = null;
  }

  compact(meta: SnapshotMeta): void {
    this.db.setSynchronous(true);
    this.storage.saveSnapshotMetaOnly(meta);
    this.#forgetOthers(this.storage.snapshotImage()?.name ?? null);
  }

  /** Removes image files other than `keep` (the one the image row now names). */
  #forgetOthers(keep: string | null): void {
    if (this.#reading && this.#reading.name !== keep) {
      this.#reading.file.close();
      this.#reading = null;
    }
    if (this.dir === "") return;
    for (const e of Deno.readDirSync(this.dir)) {
      if (e.name.startsWith("snap-") && e.name !== keep) Deno.removeSync(join(this.dir, e.name));
    }
  }
}
