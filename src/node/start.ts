// Starting a node from its data directory: identity, bootstrap of a new cluster, or restore.

import type { ServeConfig } from "../config.ts";
import { bootstrapInit } from "../raft/mod.ts";
import { type DataDir, ensureFreeSpace, openDataDir } from "../storage/data_dir.ts";
import { StartupError } from "../errors.ts";
import { bindClusterId, resolveNodeId, storedClusterId } from "../storage/identity.ts";
import { RaftStorage } from "../storage/raft_storage.ts";
import { restoredIndexKey } from "../storage/restore.ts";
import type { NodeTuning } from "./config.ts";
import { type NodeEvents, RaftNode } from "./node.ts";

export interface StartedNode {
  node: RaftNode;
  dataDir: DataDir;
  storage: RaftStorage;
  /** True when this start founded a new one-node cluster. */
  bootstrapped: boolean;
  /** True when this node starts empty and must join through --join. */
  joining: boolean;
}

function generateNodeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return "n-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A directory `raftq restore` made holds the queue at the backup's applied index and no Raft
 * state: it founds a one-node cluster whose snapshot is that index (the queue tables are that
 * snapshot's state already). Returns whether it did.
 */
function foundFromRestore(storage: RaftStorage, id: string, cfg: ServeConfig): boolean {
  const restored = storage.getMeta(restoredIndexKey);
  if (restored === undefined) return false;
  if (cfg.joinUrls.length > 0) {
    throw new StartupError(
      `data directory ${cfg.dataDir} was restored from a backup and founds a new cluster: start it without --join, then join other nodes to it`,
    );
  }
  const index = Number(restored);
  storage.saveSnapshotMetaOnly({
    index,
    term: 1,
    membership: { members: [{ id, url: cfg.advertiseUrl, voter: true }] },
  });
  storage.persist({
    hardState: { term: 1, vote: "", commit: index },
    entries: [],
  });
  storage.deleteMeta(restoredIndexKey);
  return true;
}

/**
 * Opens the data directory and builds the node. An empty directory without --join founds a
 * one-node cluster; a directory with state restarts from it (and ignores --join).
 */
export async function startNode(
  cfg: ServeConfig,
  tuning: NodeTuning,
  events: NodeEvents,
): Promise<StartedNode> {
  const dataDir = await openDataDir(cfg.dataDir);
  try {
    ensureFreeSpace(cfg.dataDir);
    const storage = new RaftStorage(dataDir.db);
    const id = resolveNodeId(storage, cfg.id, generateNodeId);
    let loaded = storage.loadBounded(tuning.logMemoryBytes);
    const fresh = loaded.terms.length === 0 && loaded.snapshot.index === 0;
    let bootstrapped = false;
    if (fresh && foundFromRestore(storage, id, cfg)) {
      loaded = storage.loadBounded(tuning.logMemoryBytes);
      bootstrapped = true;
    }
    const joining = fresh && !bootstrapped && cfg.joinUrls.length > 0;
    if (fresh && !joining && !bootstrapped) {
      const init = bootstrapInit([{ id, url: cfg.advertiseUrl }]);
      storage.persist({
        hardState: init.hardState,
        entries: init.entries,
      });
      bindClusterId(storage, crypto.randomUUID());
      loaded = storage.loadBounded(tuning.logMemoryBytes);
      bootstrapped = true;
    }
    if (!joining && storedClusterId(storage) === undefined) {
      throw new StartupError(
        `data directory ${cfg.dataDir} holds a log but no cluster id: it is damaged; remove it and rejoin`,
      );
    }
    const node = new RaftNode(id, dataDir.db, { ...loaded, appliedIndex: 0 }, tuning, events);
    return { node, dataDir, storage, bootstrapped, joining };
  } catch (err) {
    dataDir.close();
    throw err;
  }
}
