// A node's tunable numbers, with defaults and units in their names.

export interface NodeTuning {
  /** One Raft tick. Election timeout = electionTicks..2*electionTicks ticks. */
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Take a snapshot and compact once this many entries are applied past the last one. */
  snapshotEveryEntries: number;
  /** Done, dead and cancelled jobs are purged after this long. */
  retentionMs: number;
  /** How often a leader checks whether leases, delays or retention need a tick command. */
  dueCheckEveryMs: number;
  /** A write not committed and applied by then is answered outcome_unknown. */
  requestTimeoutMs: number;
  /** A node whose clock is further than this from a majority of voters' refuses to lead. */
  maxClockOffsetMs: number;
  /** How long a new learner may take to catch up before its join is given up. */
  catchUpTimeoutMs: number;
  /** Bytes of persisted log entries kept in memory; older ones are read from SQLite as needed. */
  logMemoryBytes: number;
  /** Compact the log once its entries exceed this many bytes (keeping the newest half). */
  logRetainBytes: number;
}

export const defaultTuning: NodeTuning = {
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEveryEntries: 100_000,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  dueCheckEveryMs: 250,
  requestTimeoutMs: 10_000,
  maxClockOffsetMs: 500,
  catchUpTimeoutMs: 60_000,
  logMemoryBytes: 8 * 1024 * 1024,
  logRetainBytes: 256 * 1024 * 1024,
};
