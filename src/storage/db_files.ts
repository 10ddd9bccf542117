// The files beside a database: its WAL, the side files a closed one leaves, its directory.

/**
 * Opens `<path>-wal` for flushes, and fsyncs its directory once so the file's own entry is
 * durable. SQLite keeps this file (same inode: it is reset and overwritten, never recreated) for
 * as long as a connection is open; the node's stays open for the process's life, but for a
 * swap (Database.swapIn), which opens the new file's WAL again.
 */
export function openWal(path: string): Deno.FsFile | null {
  if (path === ":memory:" || path === "") return null;
  const wal = Deno.openSync(`${path}-wal`, { read: true });
  syncDirectoryOf(path);
  return wal;
}

/** Makes the entries of the directory holding `path` durable (a new file, a rename). */
export function syncDirectoryOf(path: string): void {
  const slash = path.lastIndexOf("/");
  const dir = Deno.openSync(slash < 0 ? "." : path.slice(0, slash) || "/", { read: true });
  try {
    dir.syncSync();
  } finally {
    dir.close();
  }
}

/**
 * Removes the WAL and shared-memory files a closed database left (SQLite removes them itself when
 * it can): the WAL must be empty, or its frames would be replayed onto the file put in place.
 */
export function removeSideFiles(path: string): void {
  for (const side of [`${path}-wal`, `${path}-shm`]) {
    let bytes: number;
    try {
      bytes = Deno.statSync(side).size;
    } catch {
      continue; // not there
    }
    if (side.endsWith("-wal") && bytes > 0) {
      throw new Error(`${side} still holds ${bytes} bytes after its checkpoint`);
    }
    Deno.removeSync(side);
  }
}

/** The size of the file at `path` with its WAL, in bytes (0 for a file not there yet). */
export function fileBytes(path: string): number {
  let total = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      total += Deno.statSync(p).size;
    } catch {
      // not there (yet)
    }
  }
  return total;
}
