// What a serving node is configured with: the validated form of the serve flags (src/cli parses them).

export type LogLevel = "debug" | "info" | "warn" | "error";

/** A validated `serve` configuration. */
export interface ServeConfig {
  /** Unset: generated once and kept in the data directory. */
  id: string | undefined;
  /** How often a leader sends heartbeats (one Raft tick). */
  heartbeatMs: number;
  /** The least time without a leader before a follower campaigns (it waits up to twice that). */
  electionMs: number;
  listenHost: string;
  listenPort: number;
  /** The URL other nodes and clients reach this node at. */
  advertiseUrl: string;
  dataDir: string;
  joinUrls: string[];
  clusterSecret: string | undefined;
  token: string | undefined;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  logLevel: LogLevel;
  /** JSON lines (for log shippers) or human-readable lines. */
  logFormat: "json" | "text";
  /** Done, dead and cancelled jobs are purged after this long. */
  retentionMs: number;
  /** Request bodies over this are answered 413 payload_too_large. */
  maxBodyBytes: number;
  /** Open HTTP connections at most (lowered to fit the open-files limit). */
  maxConnections: number;
  /** A node whose clock is further than this from a majority's refuses to lead. */
  maxClockOffsetMs: number;
  /** Compact the log once this many entries were applied past the last compaction. */
  snapshotEveryEntries: number;
  /** Bytes of persisted log entries kept in memory (older ones are read from SQLite). */
  logMemoryBytes: number;
  /** Compact the log once its entries exceed this many bytes. */
  logRetainBytes: number;
}
