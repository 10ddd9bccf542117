// Data directories made by hand: from a backup (restore), or from a lone survivor (recover).

import { join } from "node:path";
import { sql } from "kysely";
import { StartupError } from "../errors.ts";
import { applyConfChange, type ConfChange, type Entry, type Membership } from "../raft/mod.ts";
import { BackupError, type BackupMeta, extractBackup } from "./backup_file.ts";
import { dataDirLayout, openDataDir } from "./data_dir.ts";
import { RaftStorage } from "./raft_storage.ts";

/** The node_meta key that marks a restored directory: it founds a cluster at this index. */
export const restoredIndexKey = "restored_index";

export interface Restored {
  meta: BackupMeta;
  clusterId: string;
  jobs: number;
}

/**
 * Makes `dir` (absent or empty) a data directory holding the backup's queue at its applied index,
 * with no Raft state and a new cluster id: `raftq serve --data dir` founds a one-node cluster
 * from it (see startNode). The backup is checked first (header, length, checksum).
 */
export async function restoreBackup(file: string, dir: string): Promise<Restored> {
  try {
    if ([...Deno.readDirSync(dir)].length > 0) {
      throw new StartupError(`data directory ${dir} is not empty: restore into a new directory`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    Deno.mkdirSync(dir, { recursive: true });
  }
  let meta: BackupMeta;
  try {
    meta = await extractBackup(file, join(dir, dataDirLayout.database));
  } catch (err) {
    Deno.removeSync(dir, { recursive: true });
    if (err instanceof BackupError) {
      throw new StartupError(`cannot restore ${file}: ${err.message}`);
    }
    throw new StartupError(`cannot restore ${file}: ${(err as Error).message}`);
  }
  const dd = await openDataDir(dir);
  try {
    const k = dd.db.kysely;
    const clusterId = crypto.randomUUID();
    dd.db.transaction(() => {
      for (
        const table of [
          "raft_log",
          "raft_hard_state",
          "raft_snapshot",
          "raft_image",
        ] as const
      ) dd.db.conn.run(k.deleteFrom(table));
      dd.db.conn.run(k.deleteFrom("node_meta").where("key", "in", ["node_id", "cluster_id"]));
      const storage = new RaftStorage(dd.db);
      storage.setMeta("cluster_id", clusterId);
      storage.setMeta(restoredIndexKey, String(meta.appliedIndex));
    });
    // (the counts every apply keeps, not a count of ten million rows: jobs in ready runs have none)
    const counted = dd.db.conn.first(
      k.selectFrom("queue_counts").select(sql<number | null>`sum(n)`.as("n")),
    );
    const jobs = Number(counted?.n ?? 0);
    return { meta, clusterId, jobs };
  } finally {
    dd.close();
  }
}

export interface Recovered {
  id: string;
  removed: string[];
  lastIndex: number;
}

/**
 * A majority is lost for good: makes this survivor's directory a one-node cluster (etcd's
 * --force-new-cluster). Every entry in its log is kept and becomes committed (an entry another
 * member acknowledged may be here only); entries removing every other member (and promoting this
 * one, if it was a learner) are appended after them. Refuses while a node holds the directory.
 */
export async function recoverDataDir(dir: string): Promise<Recovered> {
  const dd = await openDataDir(dir);
  try {
    const storage = new RaftStorage(dd.db);
    const id = storage.getMeta("node_id");
    if (id === undefined) throw new StartupError(`${dir} holds no raftq node: nothing to recover`);
    const { hardState, snapshot, entries } = storage.load();
    let membership: Membership = snapshot.membership;
    for (const e of entries) {
      if (e.kind === "conf" && e.change) membership = applyConfChange(membership, e.change);
    }
    const self = membership.members.find((m) => m.id === id);
    if (!self) throw new StartupError(`node ${id} is not in its own cluster's configuration`);
    const changes: ConfChange[] = membership.members.filter((m) => m.id !== id)
      .map((m) => ({ type: "remove", id: m.id, url: "" }));
    if (!self.voter) changes.push({ type: "promote", id, url: self.url });
    const last = snapshot.index + entries.length;
    if (changes.length === 0) return { id, removed: [], lastIndex: last };
    const lastTerm = entries.length > 0 ? entries[entries.length - 1].term : snapshot.term;
    const term = Math.max(hardState.term, lastTerm);
    const appended: Entry[] = changes.map((change, k) => ({
      index: last + 1 + k,
      term,
      kind: "conf",
      data: "",
      change,
    }));
    const lastIndex = last + appended.length;
    dd.db.setSynchronous(true);
    storage.persist({
      hardState: { term, vote: term === hardState.term ? hardState.vote : "", commit: lastIndex },
      entries: appended,
    });
    return { id, removed: changes.filter((c) => c.type === "remove").map((c) => c.id), lastIndex };
  } finally {
    dd.close();
  }
}
