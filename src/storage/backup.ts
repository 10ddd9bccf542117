// Making a backup of a running node: a consistent image of its file, described, then removed.

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { BackupMeta } from "./backup_file.ts";
import { copyDatabase } from "./image_worker.ts";

/** An image on disk, waiting to be streamed; `remove()` once it has been (or was abandoned). */
export interface BackupImage {
  path: string;
  meta: BackupMeta;
  remove(): void;
}

/**
 * Copies the node's database into `dir` on a worker thread (a consistent read while the node
 * writes on) and reads back what the image holds: the cluster, the node, the applied index.
 */
export async function makeBackupImage(dbPath: string, dir: string): Promise<BackupImage> {
  const path = join(dir, `raftq.backup-${crypto.randomUUID()}.db`);
  const remove = () => {
    for (const p of [path, `${path}-journal`]) {
      try {
        Deno.removeSync(p);
      } catch {
        // already gone
      }
    }
  };
  try {
    await copyDatabase(dbPath, path);
    const db = new DatabaseSync(path, { readOnly: true });
    let meta: BackupMeta;
    try {
      const fact = (key: string) =>
        (db.prepare("SELECT value FROM node_meta WHERE key = ?").get(key) as
          | { value: string }
          | undefined)?.value ?? "";
      const state = db.prepare("SELECT applied_index FROM queue_state WHERE id = 1").get() as
        | { applied_index: number }
        | undefined;
      meta = {
        format: 1,
        clusterId: fact("cluster_id"),
        appliedIndex: state?.applied_index ?? 0,
        nodeId: fact("node_id"),
        createdAt: new Date().toISOString(),
        imageBytes: Deno.statSync(path).size,
      };
    } finally {
      db.close();
    }
    return { path, meta, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
