// This node's identity in its data directory: its id, and the cluster it belongs to.

import { StartupError } from "../errors.ts";
import type { RaftStorage } from "./raft_storage.ts";

/**
 * The node id: the stored one, else `flagId`, else a generated one (then stored). A `--id` that
 * differs from the stored id is refused: the directory belongs to another node.
 */
export function resolveNodeId(
  storage: RaftStorage,
  flagId: string | undefined,
  generate: () => string,
): string {
  const stored = storage.getMeta("node_id");
  if (stored !== undefined) {
    if (flagId !== undefined && flagId !== stored) {
      throw new StartupError(
        `this data directory belongs to node ${stored}, but --id is ${flagId}: drop --id, or point --data at this node's own directory`,
      );
    }
    return stored;
  }
  const id = flagId ?? generate();
  storage.setMeta("node_id", id);
  return id;
}

/** The stored cluster id, if this node has joined or founded one. */
export function storedClusterId(storage: RaftStorage): string | undefined {
  return storage.getMeta("cluster_id");
}

/** Records the cluster this node belongs to; refuses to change it. */
export function bindClusterId(storage: RaftStorage, clusterId: string): void {
  const stored = storage.getMeta("cluster_id");
  if (stored !== undefined && stored !== clusterId) {
    throw new StartupError(
      `this data directory belongs to cluster ${stored}, not ${clusterId}: use an empty --data directory to join another cluster`,
    );
  }
  if (stored === undefined) storage.setMeta("cluster_id", clusterId);
}
