// Every type of the Raft protocol in one place: entries, membership, messages, hard state, Ready.

/** A node's id: short, stable, chosen once and kept in its data directory. */
export type NodeId = string;

/** The empty id: no leader known, no vote cast. */
export const NONE: NodeId = "";

/** What a log entry carries. */
export type EntryKind =
  /** Appended by a new leader at once, so it learns the commit index of its term. */
  | "noop"
  /** An opaque command for the state machine (the queue). */
  | "normal"
  /** A one-at-a-time membership change; takes effect as soon as it is in the log. */
  | "conf";

/** One-at-a-time membership changes (Raft dissertation §4.1). */
export type ConfChangeType = "addLearner" | "addVoter" | "promote" | "remove";

/** A membership change carried by a `conf` entry. `url` is opaque to the core. */
export interface ConfChange {
  type: ConfChangeType;
  id: NodeId;
  url: string;
}

/**
 * An entry's payload, opaque to the core: text, or the UTF-8 bytes of a text. A node keeps its
 * commands as bytes: a string over 128 KiB is a V8 large object, and one that outlives a young
 * collection (in the log's tail, awaiting a quorum) takes fresh pages, 40 page faults for 160 KB.
 */
export type EntryData = string | Uint8Array;

/** One log entry. `data` is opaque to the core; `change` is set exactly when kind is "conf". */
export interface Entry {
  index: number;
  term: number;
  kind: EntryKind;
  data: EntryData;
  change?: ConfChange;
}

/** One member of the cluster. Learners receive the log but never vote or count for quorum. */
export interface Member {
  id: NodeId;
  url: string;
  voter: boolean;
}

/** The cluster's membership, members sorted by id. */
export interface Membership {
  members: Member[];
}

/** What a snapshot covers: the log up to and including `index`, and the membership then. */
export interface SnapshotMeta {
  index: number;
  term: number;
  membership: Membership;
}

/** What must be durable before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Fields every message carries. */
interface MessageBase {
  term: number;
  from: NodeId;
  to: NodeId;
}

/** RequestVote (or pre-vote, which changes no term). `transfer` marks a leadership transfer. */
export interface VoteMessage extends MessageBase {
  type: "vote";
  preVote: boolean;
  lastLogIndex: number;
  lastLogTerm: number;
  transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  type: "voteResp";
  preVote: boolean;
  granted: boolean;
}

/** AppendEntries: entries follow (prevIndex, prevTerm); `commit` is the leader's commit index. */
export interface AppendMessage extends MessageBase {
  type: "append";
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
}

/**
 * Answer to AppendEntries. On success `index` is the follower's last matching index.
 * On rejection `index` is the rejected prevIndex and (hintIndex, hintTerm) let the leader
 * skip a whole term of conflicting entries at once.
 */
export interface AppendResponse extends MessageBase {
  type: "appendResp";
  success: boolean;
  index: number;
  hintIndex: number;
  hintTerm: number;
}

/** Heartbeat: keeps followers from campaigning and confirms leadership for ReadIndex rounds. */
export interface HeartbeatMessage extends MessageBase {
  type: "heartbeat";
  commit: number;
  readSeq: number;
}

export interface HeartbeatResponse extends MessageBase {
  type: "heartbeatResp";
  readSeq: number;
}

/** One chunk of InstallSnapshot; chunks of one snapshot arrive in offset order. */
export interface SnapshotMessage extends MessageBase {
  type: "snapshot";
  meta: SnapshotMeta;
  offset: number;
  chunk: Uint8Array;
  done: boolean;
}

/** Acknowledges snapshot chunks: the follower wants `nextOffset` of snapshot `index` next. */
export interface SnapshotResponse extends MessageBase {
  type: "snapshotResp";
  index: number;
  nextOffset: number;
}

/** Tells the transfer target to campaign at once, skipping pre-vote and leader leases. */
export interface TimeoutNowMessage extends MessageBase {
  type: "timeoutNow";
}

export type Message =
  | VoteMessage
  | VoteResponse
  | AppendMessage
  | AppendResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | SnapshotResponse
  | TimeoutNowMessage;

export type MessageType = Message["type"];

/** A linearizable read released by the leader: serve it once the applied index reaches `index`. */
export interface ReadState {
  id: string;
  index: number;
}

/** A snapshot chunk the caller must write durably before sending `persistedMessages`. */
export interface SnapshotChunk {
  meta: SnapshotMeta;
  offset: number;
  data: Uint8Array;
  done: boolean;
}

/** Volatile state the caller may want to observe (role changes, the known leader). */
export interface SoftState {
  role: Role;
  leader: NodeId;
  term: number;
}

/**
 * Everything the core asks of its caller after a batch of inputs. Handle it in this order:
 * 1. send `messages` (they may go before the disk write);
 * 2. write `snapshotChunks` in order (offset 0 starts a new snapshot file; when `snapshot` is
 *    set, the last chunks complete it), install `snapshot` (replacing the whole log), then write
 *    `entries` (delete every stored entry with index >= entries[0].index first) and
 *    `hardState`, all durably in one batch;
 * 3. send `persistedMessages`;
 * 4. apply `committedEntries` in order; serve `readStates` once applied >= their index;
 *    fail `droppedReads`;
 * 5. call `advance(ready)`.
 */
export interface Ready {
  /**
   * Whether the caller must make this Ready durable (fsync) before sending persistedMessages and
   * calling advance(): it carries entries, a snapshot to install, or a new term or vote. (A
   * commit index alone need not be durable: it is relearned from the leader. Nor need a
   * snapshot's chunks: a restarted node has forgotten the transfer, answers the next chunk with
   * offset 0, and the leader starts over; only the install, which the last chunk causes, is.)
   */
  mustSync: boolean;
  softState: SoftState | null;
  hardState: HardState | null;
  entries: Entry[];
  snapshot: SnapshotMeta | null;
  snapshotChunks: SnapshotChunk[];
  messages: Message[];
  persistedMessages: Message[];
  committedEntries: Entry[];
  readStates: ReadState[];
  droppedReads: string[];
}

/** Reads a chunk of the caller's current snapshot; null when that snapshot no longer exists. */
export type SnapshotReader = (
  index: number,
  offset: number,
  maxBytes: number,
) => { data: Uint8Array; done: boolean } | null;

/** A source of randomness: an integer in [0, n). Injected so a seed replays a whole run. */
export type RandomInt = (n: number) => number;
