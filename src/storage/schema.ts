// The typed tables of the SQLite file, in one place (Kysely's database interface).

/** Key-value facts about this node: its id, its cluster's id, the schema version. */
export interface NodeMetaTable {
  key: string;
  value: string;
}

/** The single row of Raft hard state (id = 1). */
export interface RaftHardStateTable {
  id: number;
  term: number;
  vote: string;
  commit_index: number;
}

/** One Raft log entry; `checksum` covers every other column. */
export interface RaftLogTable {
  idx: number;
  term: number;
  kind: string;
  data: string;
  change: string | null;
  checksum: number;
}

/** The single row describing the latest snapshot (id = 1); its bytes are in raft_snapshot_chunk. */
export interface RaftSnapshotTable {
  id: number;
  idx: number;
  term: number;
  membership: string;
  size_bytes: number;
  checksum: number;
}

/** Snapshot bytes, in chunks keyed by their byte offset. */
export interface SnapshotChunkTable {
  offset: number;
  data: Uint8Array;
}

/** Which snapshot the chunks being received belong to (id = 1). */
export interface RaftIncomingTable {
  id: number;
  idx: number;
  term: number;
  membership: string;
}

export interface Tables {
  node_meta: NodeMetaTable;
  raft_hard_state: RaftHardStateTable;
  raft_log: RaftLogTable;
  raft_snapshot: RaftSnapshotTable;
  raft_snapshot_chunk: SnapshotChunkTable;
  raft_incoming: RaftIncomingTable;
  raft_incoming_chunk: SnapshotChunkTable;
}
