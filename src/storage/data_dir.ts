// The data directory: its layout, its exclusive lock, and this node's stored identity.

import { join } from "node:path";
import { Database, type OpenOptions } from "./database.ts";
import { StartupError } from "../errors.ts";

/** File names inside a data directory. */
export const dataDirLayout = {
  database: "raftq.db",
  lock: "raftq.lock",
} as const;

/** Holds the data directory for this process (flock on raftq.lock, which names our pid). */
export class DirLock {
  #file: Deno.FsFile | null;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  static acquire(dir: string): DirLock {
    const path = join(dir, dataDirLayout.lock);
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true, create: true });
    } catch (err) {
      throw new StartupError(`data directory ${dir} is not writable: ${(err as Error).message}`);
    }
    if (!file.tryLockSync(true)) {
      let holder = "another process";
      try {
        const pid = new TextDecoder().decode(Deno.readFileSync(path)).trim();
        if (/^\d+$/.test(pid)) holder = `pid ${pid}`;
      } catch {
        // The holder's pid is a courtesy; the lock itself is what protects the data.
      }
      file.close();
      throw new StartupError(`data directory ${dir} is in use by ${holder}`);
    }
    try {
      file.truncateSync(0);
      file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch {
      // A full disk cannot take our pid; the lock holds all the same, and opening the
      // database will say what is wrong.
    }
    return new DirLock(file);
  }

  release(): void {
    if (!this.#file) return;
    try {
      this.#file.unlockSync();
    } finally {
      this.#file.close();
      this.#file = null;
    }
  }
}

export interface DataDir {
  dir: string;
  db: Database;
  lock: DirLock;
  close(): void;
}

/** Creates the directory if needed, takes its lock, then opens, checks and migrates the file. */
export async function openDataDir(dir: string, options: OpenOptions = {}): Promise<DataDir> {
  try {
    const info = Deno.statSync(dir);
    if (!info.isDirectory) throw new StartupError(`data directory ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof StartupError) throw err;
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new StartupError(`cannot use data directory ${dir}: ${(err as Error).message}`);
    }
    try {
      Deno.mkdirSync(dir, { recursive: true });
    } catch (mkErr) {
      throw new StartupError(`cannot create data directory ${dir}: ${(mkErr as Error).message}`);
    }
  }
  const lock = DirLock.acquire(dir);
  try {
    const db = await Database.open(join(dir, dataDirLayout.database), options);
    try {
      checkAttachAllowed(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return {
      dir,
      db,
      lock,
      close() {
        db.close();
        lock.release();
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** Room a node wants free on its disk at start-up: a full WAL (1,000 pages of 4 KiB). */
export const startupFreeBytes = 4 * 1024 * 1024;

/**
 * Checks that `dir`'s disk can take `bytes` more, by writing and syncing a file of that size and
 * removing it: a node on a full disk refuses to start (exit 2) instead of failing at its first
 * write. (Deno has no statfs; a write is also the only honest answer on quota'd or thin disks.)
 */
export function ensureFreeSpace(dir: string, bytes = startupFreeBytes): void {
  const path = join(dir, "raftq.space-check");
  try {
    const file = Deno.openSync(path, { write: true, create: true, truncate: true });
    try {
      const chunk = new Uint8Array(256 * 1024);
      for (let written = 0; written < bytes; written += chunk.length) file.writeSync(chunk);
      file.syncSync();
    } finally {
      file.close();
    }
  } catch (err) {
    const full = err instanceof Error && /no space|ENOSPC|os error 28|quota/i.test(err.message);
    throw new StartupError(
      full
        ? `the disk holding ${dir} is full: raftq needs ${
          bytes / (1024 * 1024)
        } MiB free to start; free some space and start again`
        : `cannot write to data directory ${dir}: ${(err as Error).message}`,
    );
  } finally {
    try {
      Deno.removeSync(path);
    } catch {
      // never created
    }
  }
}

/**
 * Snapshot images and backups attach a second file to a connection (state_image.ts). Deno's
 * node:sqlite disables ATTACH unless the process runs with --allow-all (it cannot check the
 * attached path against scoped permissions): refused at start-up rather than at the first
 * snapshot a follower needs.
 */
function checkAttachAllowed(db: Database): void {
  try {
    db.conn.db.exec("ATTACH DATABASE ':memory:' AS raftq_probe; DETACH DATABASE raftq_probe");
  } catch {
    throw new StartupError(
      "SQLite cannot attach files in this process: run raftq with --allow-all (deno run -A); Deno's node:sqlite allows ATTACH, which snapshots and backups need, only then",
    );
  }
}
