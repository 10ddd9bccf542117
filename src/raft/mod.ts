// The Raft core's front door: a pure, deterministic consensus state machine (see README).

export * from "./types.ts";
export { defaultRaftConfig, makeRaftConfig, type RaftConfig } from "./config.ts";
export { type ProposeResult, Raft, type RaftInit, type RaftStats } from "./raft.ts";
export { emptySnapshot, entryBytes, type EntryReader, RaftLog } from "./log.ts";
export { bootstrapInit, emptyInit } from "./bootstrap.ts";
export {
  applyConfChange,
  confChangeError,
  emptyMembership,
  findMember,
  isVoter,
  memberIds,
  voterIds,
} from "./membership.ts";
export { messageLimits, parseMessage, type ParseResult } from "./validate.ts";
