// Temp data directories for storage tests, removed afterwards.

import { type DataDir, openDataDir } from "../../src/storage/data_dir.ts";

export async function withDataDir<T>(fn: (dd: DataDir, dir: string) => Promise<T> | T): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "raftq-storage-" });
  const dd = await openDataDir(dir);
  try {
    return await fn(dd, dir);
  } finally {
    dd.close();
    await Deno.remove(dir, { recursive: true });
  }
}

export async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "raftq-storage-" });
}
