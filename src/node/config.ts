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
  /** A new learner that makes no progress (entries, snapshot bytes) for this long is given up. */
  catchUpStallMs: number;
  /** However it progresses, a join is given up after this long. */
  catchUpTimeoutMs: number;
  /** Bytes of persisted log entries kept in memory; older ones are read from SQLite as needed. */
  logMemoryBytes: number;
  /** Compact the log once its entries exceed this many bytes (keeping the newest half). */
  logRetainBytes: number;
  /** A follower silent this long no longer holds compaction back (RaftConfig.catchUpHoldTicks). */
  catchUpHoldMs: number;
  /**
   * A batch of schedule firings slower than this from proposal to apply means a busy leader: then
   * two batches go at once (see ScheduleFiring).
   */
  busyFiringBatchMs: number;
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
  catchUpStallMs: 20_000,
  catchUpTimeoutMs: 30 * 60_000,
  logMemoryBytes: 8 * 1024 * 1024,
  logRetainBytes: 256 * 1024 * 1024,
  catchUpHoldMs: 5 * 60_000,
  busyFiringBatchMs: 50,
};
