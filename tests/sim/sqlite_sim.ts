// Runs simulator seeds with every node's durable state in a real SQLite data directory.

import { type DataDir, openDataDir } from "../../src/storage/data_dir.ts";
import { SqliteDisk } from "./disk.ts";
import { runSeed, type SimOptions, type SimResult } from "./simulation.ts";

/** Where the files go: tmpfs when the machine has one (fsync is then cheap), else the temp dir. */
function tempRoot(): string | undefined {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a pool of data directories first (opening is asynchronous; the simulation is not), then
 * runs the seed with each new node taking the next directory. Everything is removed afterwards.
 */
export async function runSeedOnSqlite(
  options: Omit<SimOptions, "makeDisk">,
  poolSize = options.nodes + 30,
): Promise<SimResult> {
  const root = await Deno.makeTempDir({ dir: tempRoot(), prefix: "raftq-sim-" });
  const pool: DataDir[] = [];
  try {
    for (let k = 0; k < poolSize; k++) pool.push(await openDataDir(`${root}/node${k}`));
    let next = 0;
    return runSeed({
      ...options,
      makeDisk: (_id, init) => {
        if (next >= pool.length) throw new Error("the SQLite pool is exhausted");
        return new SqliteDisk(pool[next++], init);
      },
    });
  } finally {
    for (const dd of pool) dd.close();
    await Deno.remove(root, { recursive: true });
  }
}
