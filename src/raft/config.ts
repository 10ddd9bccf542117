// Tunable numbers of the Raft core, with their defaults and units in their names.

import type { EntryReader } from "./log.ts";
import type { NodeId, RandomInt, SnapshotReader } from "./types.ts";

/** How a core is built: its id, its timing in ticks, its limits, and its injected sources. */
export interface RaftConfig {
  id: NodeId;
  /** A follower campaigns after [electionTicks, 2 * electionTicks) ticks without a leader. */
  electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks ticks; must be less than electionTicks. */
  heartbeatTicks: number;
  /** Pre-vote (dissertation §9.6): a rejoining node does not depose a healthy leader. */
  preVote: boolean;
  /** Check-quorum: a leader that hears from no majority for electionTicks steps down. */
  checkQuorum: boolean;
  /** Upper bound on the entry bytes of one AppendEntries message. */
  maxAppendBytes: number;
  /**
   * About the most bytes of committed entries one Ready hands out (at least one entry): the
   * caller applies a Ready's in one go (etcd's MaxCommittedSizePerReady).
   */
  maxCommittedBytesPerReady: number;
  /** Upper bound on unacknowledged AppendEntries messages per peer (pipelining window). */
  maxInflightAppends: number;
  /**
   * Upper bound on the entry bytes of a peer's unacknowledged appends (etcd's MaxInflightBytes):
   * a follower far behind is sent this much at a time, not maxInflightAppends full appends read
   * and encoded in one step. An append alone may pass it (an entry larger than it still goes).
   */
  maxInflightBytes: number;
  /** Size of one InstallSnapshot chunk. */
  snapshotChunkBytes: number;
  /** Ticks without an answer before a snapshot chunk is sent again. */
  snapshotResendTicks: number;
  /**
   * How long a follower not heard from still holds compaction back (catchUpFloor): one back
   * within it (a restart, a reboot) catches up from the log instead of needing a whole image.
   * The caller's bounds on the log's size apply whatever.
   */
  catchUpHoldTicks: number;
  /** Randomness for election timeouts. */
  randomInt: RandomInt;
  /** Reads the caller's snapshot data when a follower needs it. */
  snapshotReader: SnapshotReader;
  /** Reads persisted entries no longer held in memory; without one the whole log stays there. */
  entryReader?: EntryReader;
  /** Bytes of persisted entries kept in memory (with an entryReader): older ones are read back. */
  logMemoryBytes?: number;
}

export const defaultRaftConfig = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxAppendBytes: 1024 * 1024,
  // A follower catching up on 200 batch entries (1,000 jobs each) applied 65 to 72 in one Ready,
  // its event loop held 1.5 s; with this bound, 0.2 s at most (two entries while its JIT warms).
  maxCommittedBytesPerReady: 256 * 1024,
  maxInflightAppends: 256,
  // A follower back from a restart lacking 400 batch entries (72 MB) was sent all of them in one
  // step: the leader held its event loop 4-6.6 s at a time, elections churned, RSS reached 360 MiB.
  // With 8 MiB its longest turn read and encoded for 450 ms, with 2 MiB 147, caught up as fast.
  maxInflightBytes: 2 * 1024 * 1024,
  snapshotChunkBytes: 512 * 1024,
  snapshotResendTicks: 5,
  // Five minutes of 50 ms ticks: a node's restart or a host's reboot, not a node lost for good.
  catchUpHoldTicks: 6_000,
} as const;

/** Fills in defaults and refuses settings that would break the protocol's assumptions. */
export function makeRaftConfig(
  options: Partial<RaftConfig> & Pick<RaftConfig, "id" | "randomInt">,
): RaftConfig {
  const config: RaftConfig = {
    ...defaultRaftConfig,
    snapshotReader: () => null,
    ...options,
  };
  if (config.id === "") throw new RangeError("Raft id must not be empty");
  if (!(config.heartbeatTicks >= 1)) throw new RangeError("heartbeatTicks must be at least 1");
  if (!(config.electionTicks > config.heartbeatTicks)) {
    throw new RangeError("electionTicks must be greater than heartbeatTicks");
  }
  if (!(config.maxInflightAppends >= 1)) {
    throw new RangeError("maxInflightAppends must be at least 1");
  }
  if (!(config.maxInflightBytes >= 1)) throw new RangeError("maxInflightBytes must be at least 1");
  if (!(config.maxCommittedBytesPerReady >= 1)) {
    throw new RangeError("maxCommittedBytesPerReady must be at least 1");
  }
  if (!(Number.isInteger(config.catchUpHoldTicks) && config.catchUpHoldTicks >= 0)) {
    throw new RangeError("catchUpHoldTicks must be a whole number");
  }
  if (!(config.snapshotChunkBytes >= 1)) {
    throw new RangeError("snapshotChunkBytes must be at least 1");
  }
  return config;
}
