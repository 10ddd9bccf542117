// The Raft state machine: step(message), tick(), proposals and reads in; a Ready out. No I/O.

import type { RaftConfig } from "./config.ts";
import { entryBytes, RaftLog } from "./log.ts";
import {
  applyConfChange,
  confChangeError,
  findMember,
  isVoter,
  memberIds,
  voterIds,
} from "./membership.ts";
import { Progress } from "./progress.ts";
import { ReadRounds } from "./read_only.ts";
import { hasMajority, majorityIndex, voteOutcome } from "./quorum.ts";
import {
  type AppendMessage,
  type AppendResponse,
  type ConfChange,
  type Entry,
  type EntryData,
  type HardState,
  type HeartbeatMessage,
  type HeartbeatResponse,
  type Membership,
  type Message,
  type NodeId,
  NONE,
  type Ready,
  type Role,
  type SnapshotChunk,
  type SnapshotMessage,
  type SnapshotMeta,
  type SnapshotResponse,
  type SoftState,
  type VoteMessage,
  type VoteResponse,
} from "./types.ts";

/** What a core starts from: everything its caller had made durable. */
export interface RaftInit {
  hardState: HardState;
  snapshot: SnapshotMeta;
  /** Every entry after the snapshot, or (with `terms`) only a tail of them (see LogInit). */
  entries: Entry[];
  terms?: number[];
  sizes?: number[];
  confs?: Entry[];
  /** The state machine's applied index; committed entries after it are handed out again. */
  appliedIndex: number;
  /** The newest image of the state machine the store holds to send, when there is one. */
  image?: SnapshotMeta | null;
}

export type ProposeResult =
  | { ok: true; firstIndex: number; lastIndex: number; term: number }
  | {
    ok: false;
    error: "not_leader" | "transferring" | "conf_pending" | "invalid_conf";
    message: string;
  };

/** Counters for observers (metrics, the simulator's summary). */
export interface RaftStats {
  campaigns: number;
  electionsWon: number;
  droppedMessages: number;
}

/** Committed entries handed out in one Ready, at most (and maxCommittedBytesPerReady). */
const maxCommittedPerReady = 4096;

export class Raft {
  readonly id: NodeId;
  readonly #cfg: RaftConfig;

  term = 0;
  vote: NodeId = NONE;
  role: Role = "follower";
  leader: NodeId = NONE;
  commit = 0;
  readonly log: RaftLog;
  /** Derived from the snapshot and the conf entries in the log; effective once appended. */
  membership: Membership;
  /** Index of the newest conf entry in the log (0 when none follows the snapshot). */
  lastConfIndex = 0;

  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #mayLead = true;
  #randomizedElectionTicks = 0;
  #tickCount = 0;
  /** The tick of the last check-quorum round: a peer heard at or after it is recently active. */
  #quorumCheckedTick = 0;
  #votes = new Map<NodeId, boolean>();

  /** Leader only: one entry per member, self included. */
  readonly progress = new Map<NodeId, Progress>();
  leadTransferee: NodeId = NONE;
  readonly #reads = new ReadRounds();

  /** Follower only: the snapshot being received. */
  #incoming: { meta: SnapshotMeta; nextOffset: number } | null = null;
  /**
   * The newest image the store holds (see imageAt): what a follower behind the log is sent. Its
   * index may be past the log's start, so taking one cuts no follower off the log.
   */
  #image: SnapshotMeta | null;

  // Output buffers, drained by ready().
  #messages: Message[] = [];
  #persistedMessages: Message[] = [];
  #snapshotChunks: SnapshotChunk[] = [];
  #snapshotToInstall: SnapshotMeta | null = null;

  // Ready bookkeeping.
  /** Lowest log index not yet handed out for persisting. */
  #unstableFrom: number;
  /** Highest log index the caller has made durable. */
  #stableIndex: number;
  applied: number;
  /** Highest committed index handed out for applying (by ready() or takeCommittedEntries()). */
  #appliedOut: number;
  #persisted: HardState;
  #lastSoft: SoftState;
  #readyOut = false;

  readonly stats: RaftStats = { campaigns: 0, electionsWon: 0, droppedMessages: 0 };

  constructor(cfg: RaftConfig, init: RaftInit) {
    this.id = cfg.id;
    this.#cfg = cfg;
    this.log = new RaftLog(
      {
        snapshot: init.snapshot,
        entries: [...init.entries],
        terms: init.terms,
        sizes: init.sizes,
        confs: init.confs,
      },
      cfg.entryReader ?? null,
      cfg.logMemoryBytes ?? Infinity,
    );
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    const last = this.log.lastIndex();
    this.applied = Math.min(Math.max(init.appliedIndex, init.snapshot.index), last);
    this.commit = Math.min(Math.max(init.hardState.commit, this.applied), last);
    this.#appliedOut = this.applied;
    this.#stableIndex = last;
    this.#unstableFrom = last + 1;
    this.membership = init.snapshot.membership;
    this.#image = init.image ?? null;
    this.#recomputeMembership();
    this.#persisted = this.hardState();
    this.#resetElectionTimer();
    this.#lastSoft = this.softState();
  }

  // ---------------------------------------------------------------- observers

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  /**
   * Whether this node may campaign: a voter the caller has not barred from leading (see
   * setMayLead). (A half-received snapshot does not stop it: its sender may be gone for good,
   * and the log it has is what the vote check judges.)
   */
  promotable(): boolean {
    return this.#mayLead && isVoter(this.membership, this.id);
  }

  /**
   * Bars this node from campaigning (an election timeout, a transfer's TimeoutNow) or lets it
   * again: the caller's judgement, such as a clock too far from the others'. A leader is not
   * deposed by it; the caller hands leadership over.
   */
  setMayLead(allowed: boolean): void {
    this.#mayLead = allowed;
  }

  /** Whether an entry of the current term is committed (a new leader's no-op has committed). */
  committedInTerm(): boolean {
    return this.log.term(this.commit) === this.term;
  }

  get stableIndex(): number {
    return this.#stableIndex;
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick. */
  tick(): void {
    this.#tickCount++;
    if (this.role === "leader") this.#tickLeader();
    else this.#tickElection();
  }

  /** Feeds one validated message addressed to this node. */
  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) {
      this.stats.droppedMessages++;
      return;
    }
    if (m.term > this.term) {
      if (m.type === "vote") {
        const inLease = this.#cfg.checkQuorum && this.leader !== NONE &&
          this.#electionElapsed < this.#cfg.electionTicks;
        // A node that hears from a live leader ignores disruptive campaigns (§4.2.3).
        if (inLease && !m.transfer) return;
      }
      const keepTerm = (m.type === "vote" && m.preVote) ||
        (m.type === "voteResp" && m.preVote && m.granted);
      if (!keepTerm) {
        const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot";
        this.#becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === "append" || m.type === "heartbeat") {
        // Tell a stale leader about the newer term so it steps down; without this a node that
        // was partitioned and rejected by pre-vote could wait forever.
        this.#sendAppendResponse(m.from, false, 0);
      } else if (m.type === "vote" && m.preVote) {
        this.#send(this.#voteResponse(m, false));
      }
      return;
    }

    if (m.type === "vote") {
      this.#handleVote(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.#stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.#stepCandidate(m);
        break;
      case "follower":
        this.#stepFollower(m);
        break;
    }
  }

  /** Campaigns now (as if the election timer fired), when this node may. */
  campaign(): void {
    this.#campaign(this.#cfg.preVote ? "preVote" : "election");
  }

  /** Appends commands to the leader's log. */
  propose(datas: readonly EntryData[]): ProposeResult {
    const refused = this.#refuseProposal();
    if (refused) return refused;
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = datas.map((data, k) => ({
      index: first + k,
      term: this.term,
      kind: "normal",
      data,
    }));
    this.#appendAsLeader(entries);
    return { ok: true, firstIndex: first, lastIndex: first + datas.length - 1, term: this.term };
  }

  /** Appends a membership change; one at a time, and only once the leader has committed in its term. */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refused = this.#refuseProposal();
    if (refused) return refused;
    if (!this.committedInTerm() || this.lastConfIndex > this.commit) {
      return {
        ok: false,
        error: "conf_pending",
        message: "Another membership change is in progress; retry once it has committed",
      };
    }
    const problem = confChangeError(this.membership, change);
    if (problem) return { ok: false, error: "invalid_conf", message: problem };
    const index = this.log.lastIndex() + 1;
    this.#appendAsLeader([{ index, term: this.term, kind: "conf", data: "", change }]);
    return { ok: true, firstIndex: index, lastIndex: index, term: this.term };
  }

  /**
   * Starts linearizable reads (ReadIndex, dissertation §6.4). Each id comes back in a later
   * Ready, either in readStates (serve once applied >= index) or in droppedReads.
   */
  readIndex(ids: readonly string[]): void {
    if (ids.length === 0) return;
    if (this.role !== "leader") return this.#reads.drop(ids);
    if (!this.committedInTerm()) return this.#reads.awaitCommit(ids);
    const voters = voterIds(this.membership);
    if (voters.length === 1 && voters[0] === this.id) return this.#reads.answer(ids, this.commit);
    this.#reads.open(ids, this.commit);
    this.#bcastHeartbeat();
  }

  /** Hands leadership to `to` (or the most up-to-date voter): it catches up, then campaigns. */
  transferLeadership(to?: NodeId): { ok: true; to: NodeId } | { ok: false; message: string } {
    if (this.role !== "leader") return { ok: false, message: "This node is not the leader" };
    let target = to;
    if (target === undefined) {
      let best = -1;
      for (const id of voterIds(this.membership)) {
        const pr = this.progress.get(id);
        if (id !== this.id && pr && pr.match > best) {
          best = pr.match;
          target = id;
        }
      }
      if (target === undefined) return { ok: false, message: "There is no other voter" };
    }
    if (target === this.id) return { ok: false, message: "This node is already the leader" };
    if (!isVoter(this.membership, target)) {
      return { ok: false, message: `Node ${target} is not a voter` };
    }
    this.leadTransferee = target;
    this.#electionElapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.#sendTimeoutNow(target);
    else this.#sendAppend(target, true);
    return { ok: true, to: target };
  }

  /**
   * Records that the caller has a snapshot of the state machine at `index` (<= applied) and
   * forgets the log up to it. Returns the snapshot's metadata for the caller to store.
   */
  compact(index: number): SnapshotMeta {
    if (index > this.applied) {
      throw new RangeError(`Cannot compact ${index} beyond applied ${this.applied}`);
    }
    if (index <= this.log.snapshot.index) return this.log.snapshot;
    const meta: SnapshotMeta = {
      index,
      term: this.log.term(index)!,
      membership: this.#membershipAt(index),
    };
    this.log.compact(meta);
    return meta;
  }

  /**
   * Records that the store now holds an image of the state machine at `index` (between the log's
   * start and applied): followers behind the log are sent it. The log is left as it is, so a
   * follower a little behind still catches up from entries. Returns its metadata to store.
   */
  imageAt(index: number): SnapshotMeta {
    if (index > this.applied || index < this.log.snapshot.index) {
      throw new RangeError(
        `No image at ${index}: outside the log's start ${this.log.snapshot.index} and applied ${this.applied}`,
      );
    }
    const meta: SnapshotMeta = index === this.log.snapshot.index ? this.log.snapshot : {
      index,
      term: this.log.term(index)!,
      membership: this.#membershipAt(index),
    };
    this.#image = meta;
    return meta;
  }

  /** The newest image, unless the log was compacted past it (a follower would still be behind). */
  get image(): SnapshotMeta | null {
    const image = this.#image;
    return image !== null && image.index >= this.log.snapshot.index ? image : null;
  }

  /** What a follower behind the log is sent: the image, or the log's start when there is none. */
  get sendableSnapshot(): SnapshotMeta {
    return this.image ?? this.log.snapshot;
  }

  /**
   * The highest index compaction can reach without cutting off a follower: the lowest match among
   * followers heard from within catchUpHoldTicks (one silent longer does not hold the log; it gets
   * a snapshot when it comes back). A follower being sent a snapshot is held at that snapshot.
   * Not a leader: no limit.
   */
  catchUpFloor(): number {
    if (this.role !== "leader") return Infinity;
    let floor = Infinity;
    for (const [id, pr] of this.progress) {
      if (id === this.id || this.#tickCount - pr.heardTick > this.#cfg.catchUpHoldTicks) continue;
      floor = Math.min(floor, pr.state === "snapshot" ? pr.pendingSnapshot : pr.match);
    }
    return floor;
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    if (this.#messages.length || this.#persistedMessages.length) return true;
    if (this.#unstableFrom <= this.log.lastIndex() || this.#snapshotToInstall) return true;
    if (this.#snapshotChunks.length || this.#reads.hasOutput) return true;
    if (this.commit > this.#appliedOut) return true;
    const hs = this.#persisted;
    if (hs.term !== this.term || hs.vote !== this.vote || hs.commit !== this.commit) return true;
    const soft = this.#lastSoft;
    return soft.role !== this.role || soft.leader !== this.leader || soft.term !== this.term;
  }

  /** Everything to persist, send and apply since the last Ready. Call advance() after it. */
  ready(): Ready {
    if (this.#readyOut) throw new Error("ready() called again before advance()");
    this.#readyOut = true;
    const soft = this.softState();
    const last = this.#lastSoft;
    const softChanged = soft.role !== last.role || soft.leader !== last.leader ||
      soft.term !== last.term;
    const hs = this.hardState();
    const p = this.#persisted;
    const hardChanged = hs.term !== p.term || hs.vote !== p.vote || hs.commit !== p.commit;
    const entries = this.#unstableFrom <= this.log.lastIndex()
      ? this.log.slice(this.#unstableFrom, this.log.lastIndex() + 1)
      : [];
    const committedEntries = this.#handOutCommitted();
    const rd: Ready = {
      // (chunks alone need no flush: see Ready.mustSync)
      mustSync: entries.length > 0 || this.#snapshotToInstall !== null ||
        hs.term !== p.term || hs.vote !== p.vote,
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hs : null,
      entries,
      snapshot: this.#snapshotToInstall,
      snapshotChunks: this.#snapshotChunks,
      messages: this.#messages,
      persistedMessages: this.#persistedMessages,
      committedEntries,
      ...this.#reads.takeOutput(),
    };
    this.#unstableFrom = this.log.lastIndex() + 1;
    this.#lastSoft = soft;
    this.#snapshotToInstall = null;
    this.#snapshotChunks = [];
    this.#messages = [];
    this.#persistedMessages = [];
    return rd;
  }

  /**
   * The messages queued since the last ready() that may leave before any disk write (a leader's
   * appends and heartbeats, its term being durable), for a caller that is still writing the last
   * Ready: new proposals reach followers while the leader's own flush runs. The rest (votes,
   * acks) stays for the next Ready.
   */
  takeMessages(): Message[] {
    const out = this.#messages;
    this.#messages = [];
    return out;
  }

  /**
   * Committed entries not yet handed out, for a caller that is still writing the last Ready: it
   * applies them at once (they are durable on a majority; its own flush is not needed for that),
   * so they count as applied. Only entries a Ready has already handed out to be written: an
   * apply must never reach the store before its entry does, or a crash leaves the state machine
   * ahead of the log, and a snapshot from the next leader would then take it back. None while a
   * received snapshot waits to be installed.
   */
  takeCommittedEntries(): Entry[] {
    if (this.#snapshotToInstall) return [];
    const entries = this.#handOutCommitted(this.#unstableFrom - 1);
    if (entries.length > 0) {
      this.applied = Math.max(this.applied, entries[entries.length - 1].index);
    }
    return entries;
  }

  /** About the most bytes of committed entries a Ready hands out (see RaftConfig). */
  get committedBytesPerReady(): number {
    return this.#cfg.maxCommittedBytesPerReady;
  }

  /** Committed entries after those handed out, through `upTo` at most. */
  #handOutCommitted(upTo = Infinity): Entry[] {
    const hi = Math.min(this.commit, this.#appliedOut + maxCommittedPerReady, upTo);
    if (hi <= this.#appliedOut) return [];
    const entries = this.log.slice(this.#appliedOut + 1, hi + 1, this.committedBytesPerReady);
    this.#appliedOut = entries[entries.length - 1].index;
    return entries;
  }

  /** The caller has persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    if (!this.#readyOut) throw new Error("advance() called without ready()");
    this.#readyOut = false;
    if (rd.hardState) this.#persisted = rd.hardState;
    if (rd.snapshot) this.#stableIndex = Math.max(this.#stableIndex, rd.snapshot.index);
    if (rd.entries.length > 0) {
      this.#stableIndex = rd.entries[rd.entries.length - 1].index;
    }
    this.#stableIndex = Math.min(this.#stableIndex, this.#unstableFrom - 1);
    if (rd.committedEntries.length > 0) {
      // (max: a snapshot installed since ready() may have moved it further already)
      this.applied = Math.max(
        this.applied,
        rd.committedEntries[rd.committedEntries.length - 1].index,
      );
    }
    if (this.role === "leader") {
      const self = this.progress.get(this.id);
      if (self) self.maybeUpdate(this.#stableIndex);
      this.#maybeCommitAndBroadcast();
    }
    // Entries now on the caller's disk may leave memory (read back when a follower needs them).
    this.log.evict(this.#stableIndex);
  }

  // ---------------------------------------------------------------- roles

  #becomeFollower(term: number, leader: NodeId): void {
    this.#reset(term);
    this.role = "follower";
    this.leader = leader;
  }

  #becomePreCandidate(): void {
    // Pre-vote changes neither term nor vote: a failed pre-vote leaves no trace.
    this.#reads.dropAll();
    this.role = "preCandidate";
    this.leader = NONE;
    this.#votes = new Map();
    this.#electionElapsed = 0;
    this.#resetElectionTimer();
  }

  #becomeCandidate(): void {
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  #becomeLeader(): void {
    this.#reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.stats.electionsWon++;
    for (const id of memberIds(this.membership)) this.#addProgress(id);
    // A no-op of the new term lets the leader commit (and learn) everything before it (§5.4.2).
    this.#appendAsLeader([{
      index: this.log.lastIndex() + 1,
      term: this.term,
      kind: "noop",
      data: "",
    }]);
  }

  #reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
      this.#incoming = null; // a new term's leader starts any snapshot over
    }
    this.#reads.dropAll();
    this.leader = NONE;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#resetElectionTimer();
    this.#votes = new Map();
    this.progress.clear();
    this.leadTransferee = NONE;
  }

  #resetElectionTimer(): void {
    const base = this.#cfg.electionTicks;
    this.#randomizedElectionTicks = base + this.#cfg.randomInt(base);
  }

  // ---------------------------------------------------------------- elections

  #tickElection(): void {
    this.#electionElapsed++;
    if (this.promotable() && this.#electionElapsed >= this.#randomizedElectionTicks) {
      this.#electionElapsed = 0;
      this.campaign();
    }
  }

  #campaign(kind: "preVote" | "election" | "transfer"): void {
    if (!this.promotable()) return;
    this.stats.campaigns++;
    const preVote = kind === "preVote";
    if (preVote) this.#becomePreCandidate();
    else this.#becomeCandidate();
    const voteTerm = preVote ? this.term + 1 : this.term;
    this.#votes.set(this.id, true);
    const voters = voterIds(this.membership);
    if (voteOutcome(voters, this.#votes) === "won") {
      if (preVote) this.#campaign("election");
      else this.#becomeLeader();
      return;
    }
    for (const id of voters) {
      if (id === this.id) continue;
      this.#send({
        type: "vote",
        term: voteTerm,
        from: this.id,
        to: id,
        preVote,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer: kind === "transfer",
      });
    }
  }

  #handleVote(m: VoteMessage): void {
    // Grant when we have not voted for another in this term and know no leader of it, or it is
    // a pre-vote for a future term; and only for a log at least as up to date as ours (§5.4.1).
    const canVote = this.vote === m.from ||
      (this.vote === NONE && this.leader === NONE) ||
      (m.preVote && m.term > this.term);
    const granted = canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (granted && !m.preVote) {
      this.#electionElapsed = 0;
      this.vote = m.from;
    }
    this.#send(this.#voteResponse(m, granted));
  }

  #voteResponse(m: VoteMessage, granted: boolean): VoteResponse {
    return {
      type: "voteResp",
      // A granted pre-vote answers in the future term it was asked for.
      term: granted && m.preVote ? m.term : this.term,
      from: this.id,
      to: m.from,
      preVote: m.preVote,
      granted,
    };
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // A leader of our term (or newer) exists: stand down and listen to it.
        this.#becomeFollower(m.term, m.from);
        this.#stepFollower(m);
        return;
      case "voteResp": {
        const mine = (this.role === "preCandidate") === m.preVote;
        if (!mine) return;
        this.#votes.set(m.from, m.granted);
        const outcome = voteOutcome(voterIds(this.membership), this.#votes);
        if (outcome === "won") {
          if (this.role === "preCandidate") this.#campaign("election");
          else this.#becomeLeader();
        } else if (outcome === "lost") {
          this.#becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- follower

  #stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.#electionElapsed = 0;
        this.leader = m.from;
        this.#handleAppend(m);
        return;
      case "heartbeat":
        this.#electionElapsed = 0;
        this.leader = m.from;
        this.#handleHeartbeat(m);
        return;
      case "snapshot":
        this.#electionElapsed = 0;
        this.leader = m.from;
        this.#handleSnapshot(m);
        return;
      case "timeoutNow":
        this.#campaign("transfer");
        return;
      default:
        return;
    }
  }

  #handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.commit) {
      this.#sendAppendResponse(m.from, true, this.commit);
      return;
    }
    if (!this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const hintIndex = this.log.findConflictByTerm(
        Math.min(m.prevIndex, this.log.lastIndex()),
        m.prevTerm,
      );
      this.#sendAppendResponse(
        m.from,
        false,
        m.prevIndex,
        hintIndex,
        this.log.term(hintIndex) ?? 0,
      );
      return;
    }
    const lastNew = m.prevIndex + m.entries.length;
    const changedFrom = this.log.appendAfterMatch(m.entries);
    if (changedFrom <= this.log.lastIndex()) this.#logChangedFrom(changedFrom, m.entries);
    this.#commitTo(Math.min(m.commit, lastNew));
    this.#sendAppendResponse(m.from, true, lastNew);
  }

  #handleHeartbeat(m: HeartbeatMessage): void {
    this.#commitTo(Math.min(m.commit, this.log.lastIndex()));
    const resp: HeartbeatResponse = {
      type: "heartbeatResp",
      term: this.term,
      from: this.id,
      to: m.from,
      readSeq: m.readSeq,
    };
    this.#send(resp);
  }

  #handleSnapshot(m: SnapshotMessage): void {
    const meta = m.meta;
    // An install is waiting to be handed out: take no chunk of anything else in the same Ready
    // (the caller writes chunks, then installs). The leader sends again.
    if (this.#snapshotToInstall !== null) return;
    if (meta.index <= this.commit) {
      this.#incoming = null;
      this.#sendAppendResponse(m.from, true, this.commit);
      return;
    }
    if (m.offset === 0) {
      if (this.log.matchTerm(meta.index, meta.term)) {
        // We already hold the covered log: just learn that it is committed.
        this.#incoming = null;
        this.#commitTo(meta.index);
        this.#sendAppendResponse(m.from, true, meta.index);
        return;
      }
      this.#incoming = { meta, nextOffset: 0 };
    }
    const inc = this.#incoming;
    const same = inc !== null && inc.meta.index === meta.index && inc.meta.term === meta.term;
    if (!same || m.offset !== inc.nextOffset) {
      const resp: SnapshotResponse = {
        type: "snapshotResp",
        term: this.term,
        from: this.id,
        to: m.from,
        index: meta.index,
        nextOffset: same ? inc.nextOffset : 0,
      };
      this.#send(resp);
      return;
    }
    this.#snapshotChunks.push({ meta, offset: m.offset, data: m.chunk, done: m.done });
    inc.nextOffset += m.chunk.length;
    if (!m.done) {
      this.#send({
        type: "snapshotResp",
        term: this.term,
        from: this.id,
        to: m.from,
        index: meta.index,
        nextOffset: inc.nextOffset,
      });
      return;
    }
    this.#incoming = null;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // Appends overtook the chunks: our log already holds what the snapshot covers, and
      // entries after it that we may have acknowledged. Keep them; only learn the commit.
      this.#commitTo(meta.index);
      this.#sendAppendResponse(m.from, true, meta.index);
      return;
    }
    // Install: the snapshot replaces the whole log, and the state machine with it.
    this.log.restore(meta);
    this.commit = meta.index;
    this.applied = meta.index;
    this.#appliedOut = meta.index;
    this.#unstableFrom = meta.index + 1;
    this.#stableIndex = Math.min(this.#stableIndex, meta.index);
    this.#snapshotToInstall = meta;
    this.membership = meta.membership;
    this.lastConfIndex = 0;
    this.#sendAppendResponse(m.from, true, meta.index);
  }

  #sendAppendResponse(
    to: NodeId,
    success: boolean,
    index: number,
    hintIndex = 0,
    hintTerm = 0,
  ): void {
    const resp: AppendResponse = {
      type: "appendResp",
      term: this.term,
      from: this.id,
      to,
      success,
      index,
      hintIndex,
      hintTerm,
    };
    this.#send(resp);
  }

  #commitTo(index: number): void {
    if (index > this.commit) this.commit = index;
  }

  // ---------------------------------------------------------------- leader

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#cfg.electionTicks) {
      this.#electionElapsed = 0;
      if (this.#cfg.checkQuorum) {
        const active = new Set<NodeId>([this.id]);
        for (const [id, pr] of this.progress) {
          if (pr.heardTick >= this.#quorumCheckedTick) active.add(id);
        }
        if (!hasMajority(voterIds(this.membership), active)) {
          this.#becomeFollower(this.term, NONE);
          return;
        }
        this.#quorumCheckedTick = this.#tickCount;
      }
      // A transfer that has not finished within an election timeout is abandoned.
      this.leadTransferee = NONE;
    }
    if (this.#heartbeatElapsed >= this.#cfg.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#bcastHeartbeat();
    }
    for (const [id, pr] of this.progress) {
      if (
        pr.state === "snapshot" &&
        this.#tickCount - pr.snapshotSentTick >= this.#cfg.snapshotResendTicks
      ) {
        this.#sendSnapshotChunk(id, pr);
      }
    }
  }

  #stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.heardTick = this.#tickCount;
    switch (m.type) {
      case "appendResp":
        this.#handleAppendResponse(m, pr);
        return;
      case "heartbeatResp":
        pr.probeSent = false;
        // A full window whose appends were lost would never reopen: let one more go.
        if (pr.state === "replicate" && this.#paused(pr)) pr.freeFirstInflight();
        if (pr.match < this.log.lastIndex()) this.#sendAppend(m.from, true);
        if (m.readSeq > pr.readSeqAcked) {
          pr.readSeqAcked = m.readSeq;
          this.#releaseConfirmedReads();
        }
        return;
      case "snapshotResp":
        if (pr.state === "snapshot" && m.index === pr.pendingSnapshot && movesOn(pr, m)) {
          pr.snapshotOffset = m.nextOffset;
          this.#sendSnapshotChunk(m.from, pr);
        }
        return;
      default:
        return;
    }
  }

  #handleAppendResponse(m: AppendResponse, pr: Progress): void {
    if (!m.success) {
      let hint = m.hintIndex;
      if (m.hintTerm > 0) hint = this.log.findConflictByTerm(m.hintIndex, m.hintTerm);
      if (pr.maybeDecreaseTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.#sendAppend(m.from, true);
      }
      return;
    }
    const index = Math.min(m.index, this.log.lastIndex());
    const wasPaused = this.#paused(pr);
    if (pr.maybeUpdate(index)) {
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
      if (pr.state === "replicate") pr.freeInflightsTo(index);
      if (!this.#maybeCommitAndBroadcast() && wasPaused) this.#sendAppend(m.from, true);
      while (pr.state === "replicate" && this.#sendAppend(m.from, false));
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.#sendTimeoutNow(m.from);
      }
    } else if (pr.state === "replicate") {
      pr.freeInflightsTo(index);
    }
  }

  /** Advances the commit index and tells every follower; true when the commit moved. */
  #maybeCommitAndBroadcast(): boolean {
    if (!this.#maybeCommit()) return false;
    if (this.role !== "leader") return true; // stepped down after its own removal
    this.#bcastAppend(true);
    this.#pruneProgress();
    return true;
  }

  /** Advances the commit index to what a majority holds, counting only this term's entries (§5.4.2). */
  #maybeCommit(): boolean {
    const voters = voterIds(this.membership);
    const index = majorityIndex(voters, (id) => this.progress.get(id)?.match ?? 0);
    if (index <= this.commit || this.log.term(index) !== this.term) return false;
    const hadCommittedInTerm = this.committedInTerm();
    this.commit = index;
    if (!hadCommittedInTerm) this.readIndex(this.#reads.takeAwaitingCommit());
    // A leader that removed itself steps down once its removal is committed (§4.2.2).
    if (!findMember(this.membership, this.id) && this.commit >= this.lastConfIndex) {
      this.#bcastAppend(true); // let the others learn the commit before we go quiet
      this.#becomeFollower(this.term, NONE);
    }
    return true;
  }

  /** Forgets the progress of members whose removal has committed. */
  #pruneProgress(): void {
    if (this.commit < this.lastConfIndex) return;
    for (const id of [...this.progress.keys()]) {
      if (!findMember(this.membership, id)) this.progress.delete(id);
    }
  }

  /** Answers the read rounds a majority of voters has acknowledged (this leader counts). */
  #releaseConfirmedReads(): void {
    const voters = voterIds(this.membership);
    this.#reads.release((seq) => {
      const acked = new Set<NodeId>([this.id]);
      for (const [id, pr] of this.progress) if (pr.readSeqAcked >= seq) acked.add(id);
      return hasMajority(voters, acked);
    });
  }

  #refuseProposal(): Extract<ProposeResult, { ok: false }> | null {
    if (this.role !== "leader") {
      return { ok: false, error: "not_leader", message: "This node is not the leader" };
    }
    if (this.leadTransferee !== NONE) {
      return { ok: false, error: "transferring", message: "Leadership is being transferred" };
    }
    return null;
  }

  #appendAsLeader(entries: Entry[]): void {
    this.log.appendNew(entries);
    if (entries.some((e) => e.kind === "conf")) this.#logChangedFrom(entries[0].index, entries);
    this.#bcastAppend(false);
  }

  #bcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.#sendAppend(id, sendIfEmpty);
    }
  }

  #bcastHeartbeat(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.#send({
        type: "heartbeat",
        term: this.term,
        from: this.id,
        to: id,
        commit: Math.min(pr.match, this.commit),
        readSeq: this.#reads.seq,
      });
    }
  }

  /** Sends the next append to `to` unless it is paused; true when something was sent. */
  #sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || this.#paused(pr)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      // The entries this peer needs were compacted away: it needs the snapshot.
      pr.becomeSnapshot(this.sendableSnapshot.index, this.#tickCount);
      this.#sendSnapshotChunk(to, pr);
      return true;
    }
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.#cfg.maxAppendBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#send({
      type: "append",
      term: this.term,
      from: this.id,
      to,
      prevIndex,
      prevTerm,
      entries,
      commit: this.commit,
    });
    let bytes = 0;
    for (const e of entries) bytes += entryBytes(e);
    pr.sentEntries(prevIndex + entries.length, entries.length, bytes);
    return true;
  }

  /** Whether `pr`'s window is full: its appends in flight, or their bytes. */
  #paused(pr: Progress): boolean {
    return pr.isPaused(this.#cfg.maxInflightAppends, this.#cfg.maxInflightBytes);
  }

  #sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const sendable = this.sendableSnapshot;
    // A newer image replaced the one being sent: start over with it. (Asked for, the old one would
    // read as missing, and a missing image makes the caller capture another.)
    if (pr.pendingSnapshot !== sendable.index) pr.becomeSnapshot(sendable.index, this.#tickCount);
    let chunk = this.#cfg.snapshotReader(
      pr.pendingSnapshot,
      pr.snapshotOffset,
      this.#cfg.snapshotChunkBytes,
    );
    if (chunk === null && pr.snapshotOffset > 0) {
      pr.becomeSnapshot(sendable.index, this.#tickCount); // its file is gone: from the start
      chunk = this.#cfg.snapshotReader(pr.pendingSnapshot, 0, this.#cfg.snapshotChunkBytes);
    }
    pr.snapshotSentTick = this.#tickCount;
    if (chunk === null) return; // none yet (one is being made): the resend tries again
    this.#send({
      type: "snapshot",
      term: this.term,
      from: this.id,
      to,
      meta: this.sendableSnapshot,
      offset: pr.snapshotOffset,
      chunk: chunk.data,
      done: chunk.done,
    });
  }

  #sendTimeoutNow(to: NodeId): void {
    this.#send({ type: "timeoutNow", term: this.term, from: this.id, to });
  }

  #addProgress(id: NodeId): void {
    const pr = new Progress(this.log.lastIndex() + 1);
    pr.heardTick = this.#tickCount;
    if (id === this.id) pr.match = this.#stableIndex;
    this.progress.set(id, pr);
  }

  // ---------------------------------------------------------------- membership

  /** The log changed from `from` on (new entries, or a truncated suffix replaced). */
  #logChangedFrom(from: number, entries: readonly Entry[]): void {
    if (from <= this.commit) {
      throw new Error(
        `Safety violation: log changed at ${from}, at or below commit ${this.commit}`,
      );
    }
    this.#unstableFrom = Math.min(this.#unstableFrom, from);
    this.#stableIndex = Math.min(this.#stableIndex, from - 1);
    if (this.lastConfIndex >= from || entries.some((e) => e.kind === "conf")) {
      this.#recomputeMembership();
    }
  }

  #recomputeMembership(): void {
    let membership = this.log.snapshot.membership;
    let lastConf = 0;
    for (const e of this.log.confEntries()) {
      if (e.change) {
        membership = applyConfChange(membership, e.change);
        lastConf = e.index;
      }
    }
    this.membership = membership;
    this.lastConfIndex = lastConf;
    if (this.role === "leader") {
      for (const id of memberIds(membership)) if (!this.progress.has(id)) this.#addProgress(id);
      // A removed member keeps its progress until its removal commits, so that it receives
      // the entry that removes it and learns to stop campaigning (see #pruneProgress).
      if (this.leadTransferee !== NONE && !isVoter(membership, this.leadTransferee)) {
        this.leadTransferee = NONE;
      }
    }
  }

  #membershipAt(index: number): Membership {
    let membership = this.log.snapshot.membership;
    for (const e of this.log.confEntries()) {
      if (e.index > index) break;
      if (e.change) membership = applyConfChange(membership, e.change);
    }
    return membership;
  }

  // ---------------------------------------------------------------- output

  /**
   * Queues a message. A leader's appends, heartbeats, snapshots and TimeoutNow may leave before
   * the disk write once its term is durable; everything else waits for the write (votes, acks).
   */
  #send(m: Message): void {
    const leaderTraffic = m.type === "append" || m.type === "heartbeat" ||
      m.type === "snapshot" || m.type === "timeoutNow";
    if (leaderTraffic && this.#persisted.term === this.term) this.#messages.push(m);
    else this.#persistedMessages.push(m);
  }
}

/**
 * Whether a chunk's answer moves a snapshot transfer: the follower wants another offset than the
 * chunk in flight (the next one, or an earlier one if it lost what it had). An answer asking for
 * the chunk already in flight is a duplicate, or came after a resend: sending again would start
 * a second chain of chunks and answers beside the first, and each duplicate another, without
 * bound (the resend timer covers a lost chunk).
 */
function movesOn(pr: Progress, m: SnapshotResponse): boolean {
  return m.nextOffset !== pr.snapshotOffset;
}
