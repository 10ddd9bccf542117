// The one place that does I/O around the Raft core: propose, persist, send, apply, answer.

import { setImmediate } from "node:timers";
import { RaftqError } from "../errors.ts";
import type { ApplyResult } from "../queue/results.ts";
import { QueueStateMachine } from "../queue/state_machine.ts";
import type { QueueCommand } from "../queue/commands.ts";
import {
  type ConfChange,
  defaultRaftConfig,
  type Entry,
  makeRaftConfig,
  type Member,
  type Message,
  NONE,
  Raft,
  type RaftInit,
  type Ready,
} from "../raft/mod.ts";
import type { Database } from "../storage/database.ts";
import { StartupError } from "../errors.ts";
import { RaftStorage } from "../storage/raft_storage.ts";
import type { NodeTuning } from "./config.ts";
import type { NodeApi, NodeStatus, QueueReads } from "./facade.ts";
import { ScheduleFiring } from "./schedule_firing.ts";
import { Watches } from "./watches.ts";
import { type LoopHooks, ReadyLoop } from "./loop.ts";
import { SqliteLogStore } from "../storage/log_store.ts";
import { JoinTracker } from "./joins.ts";
import { ClockGuard, type ClockVerdict } from "./clock_guard.ts";
import { QueueClock } from "./queue_clock.ts";
import type { ClockEstimate } from "../transport/clock_offsets.ts";
import { NodeMetrics } from "../metrics.ts";
import { WriteTrace } from "./write_trace.ts";
import { LoopDelay } from "./loop_delay.ts";
import {
  acceptForwarded,
  acceptReadIndex,
  forwardReadIndex,
  type ForwardTarget,
  forwardWrite,
} from "./forwarding.ts";
import type { Proposal } from "./merge.ts";
import { encodeProposals } from "./encode_proposals.ts";
import { ReadRequests } from "./read_requests.ts";
import { WriteWaiters } from "./write_waiters.ts";

/** Where a node's peer messages go; the WebSocket transport, or nothing in a one-node cluster. */
export interface Transport {
  send(messages: readonly Message[]): void;
  /** What this node believes of a peer's clock (from the link's pings), if anything. */
  clockEstimate?(peer: string): ClockEstimate | null;
  /** Sends a write to the leader over the peer link (see forwarding.ts). */
  forwardProposal?(to: string, cmd: string, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Asks the leader for a read index over the peer link (see forwarding.ts). */
  forwardRead?(to: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

export interface NodeEvents {
  /**
   * The node stopped itself: a storage failure (a StorageFatalError: never retry an fsync) or a
   * broken invariant (any other error). Never a request's fault: those fail the request alone.
   */
  onFatal(error: Error): void;
  /** A committed entry could not be applied; it changed nothing, on every replica. */
  onApplyFailed?(index: number, message: string): void;
  /** This node's clock came to disagree (or agree again) with a majority's; see clockVerdict. */
  onClockVerdict?(verdict: ClockVerdict, maxOffsetMs: number): void;
  /** Role, term or leader changed. */
  onRoleChange?(role: string, term: number, leader: string): void;
  /** A snapshot was taken here, received whole (installing), installed, or the log compacted. */
  onSnapshot?(kind: "taken" | "installing" | "installed" | "compacted", index: number): void;
  /**
   * Jobs may have become ready in `queue`, or a lease ended there (long polls wake): it holds
   * `ready` ready jobs now.
   */
  onJobsReady?(queue: string, ready: number): void;
  /** An apply wrote events of `queue` (event streams wake). */
  onEvents?(queue: string): void;
  /** Jobs someone waits on, woken when they end (see QueueStateMachine.jobWatch). */
  jobWatch?: { has(id: string): boolean; wake(id: string): void };
  /** This node applied its own removal from the cluster. */
  onRemoved?(): void;
  /** A membership change was applied. */
  onMembershipChange?(change: ConfChange): void;
  /**
   * A tick fired `delayMs` late, half an election timeout or more (at most one a 10 s): the event
   * loop was held that long, and heartbeats with it.
   */
  onLoopDelayed?(delayMs: number, electionMs: number): void;
}

const outcomeUnknown = () =>
  new RaftqError(
    "outcome_unknown",
    "The write was proposed but its commit could not be confirmed; retry with the same idempotencyKey",
  );
const noLeader = () => new RaftqError("no_leader", "No leader is known right now", 1);
const shuttingDown = () => new RaftqError("unavailable", "The node is shutting down", 1);

/**
 * Runs one Raft node: a tick timer, a queue of proposals and reads batched per loop turn, and
 * the Ready loop. Proposals that arrive while a batch is being flushed are appended to the log
 * and sent to followers at once, and persisted together with the next Ready: that is group
 * commit, one transaction and one fsync per batch, never one per entry.
 */
export class RaftNode implements NodeApi {
  readonly id: string;
  readonly raft: Raft;
  readonly storage: RaftStorage;
  readonly sm: QueueStateMachine;
  readonly #tuning: NodeTuning;
  readonly #events: NodeEvents;
  transport: Transport = { send() {} };
  readonly metrics = new NodeMetrics();
  /** A sampled write's stages (raftq_write_stage_seconds). */
  readonly #trace = new WriteTrace(
    () => performance.now(),
    (stage, seconds) => this.metrics.writeStageSeconds.observe(seconds, { stage }),
  );

  #proposals: Proposal[] = [];
  readonly #waiters = new WriteWaiters(outcomeUnknown);
  readonly #reads: ReadRequests;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #loopDelay: LoopDelay;
  #dueTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #tickProposed = false;
  readonly #firing: ScheduleFiring;
  #lastLeader = NONE;
  readonly #queueClock = new QueueClock();
  readonly #clock: ClockGuard;
  readonly #loop: ReadyLoop<ApplyResult>;
  readonly #watches = new Watches(() => performance.now());
  readonly #joins: JoinTracker;

  constructor(id: string, db: Database, init: RaftInit, tuning: NodeTuning, events: NodeEvents) {
    this.id = id;
    this.#reads = new ReadRequests(id, () => this.sm.appliedIndex, noLeader);
    this.#tuning = tuning;
    this.#loopDelay = new LoopDelay(tuning.tickMs);
    this.#events = events;
    this.storage = new RaftStorage(db);
    db.onWalSynced = (s) => this.metrics.walFsyncSeconds.observe(s);
    this.sm = new QueueStateMachine(db);
    this.sm.onReady = (queue, ready) => events.onJobsReady?.(queue, ready);
    this.sm.onEvents = (queue) => events.onEvents?.(queue);
    this.sm.answered = (index) => this.#waiters.has(index);
    if (events.jobWatch) this.sm.jobWatch = events.jobWatch;
    const store = new SqliteLogStore(db, this.storage, undefined, true);
    this.raft = new Raft(
      makeRaftConfig({
        id,
        electionTicks: tuning.electionTicks,
        heartbeatTicks: tuning.heartbeatTicks,
        catchUpHoldTicks: Math.ceil(tuning.catchUpHoldMs / tuning.tickMs),
        randomInt: (n) => crypto.getRandomValues(new Uint32Array(1))[0] % n,
        entryReader: (lo, hi, maxBytes) => this.storage.entries(lo, hi, maxBytes),
        logMemoryBytes: tuning.logMemoryBytes,
        snapshotReader: (index, offset, max) => {
          const chunk = store.readSnapshotChunk(index, offset, max);
          // None materialized: the loop makes one at the applied index, outside the core's
          // call; the core sends it again on a later tick.
          if (chunk === null) this.#loop.wantSnapshot();
          return chunk;
        },
      }),
      { ...init, appliedIndex: this.sm.appliedIndex },
    );
    this.#clock = this.#clockGuard();
    this.#firing = this.#scheduleFiring();
    this.#joins = new JoinTracker(
      this.raft,
      () => this.storage.snapshotImage()?.bytes ?? null,
      defaultRaftConfig.snapshotChunkBytes,
    );
    this.#loop = new ReadyLoop(
      this.raft,
      {
        store,
        sm: this.sm,
        peers: { send: (messages) => this.transport.send(messages) },
        // A macrotask, not a microtask: requests that arrived in the same I/O turn join the batch.
        scheduler: { soon: (fn) => setImmediate(fn), after: (ms, fn) => setTimeout(fn, ms) },
        monoMs: () => performance.now(),
        metrics: {
          appendBatch: (n) => this.metrics.appendBatch.observe(n),
          applySeconds: (s) => this.metrics.applySeconds.observe(s),
          fsyncSeconds: (s) => this.metrics.fsyncSeconds.observe(s),
        },
        trace: this.#trace,
      },
      this.#hooks(),
      { everyEntries: tuning.snapshotEveryEntries, aboveBytes: tuning.logRetainBytes },
    );
    if (this.sm.appliedIndex < init.snapshot.index) {
      // The log before the snapshot is gone, so the state machine must already cover it.
      throw new StartupError(
        `the queue tables are at index ${this.sm.appliedIndex} but the log starts after ${init.snapshot.index}: the data directory is damaged; remove it and rejoin the cluster`,
      );
    }
  }

  /** The clock guard, on this node's voters, peers' estimates and core. */
  #clockGuard(): ClockGuard {
    return new ClockGuard({
      selfId: this.id,
      voters: () => this.raft.membership.members.filter((m) => m.voter).map((m) => m.id),
      estimate: (peer) => this.transport.clockEstimate?.(peer) ?? null,
      maxOffsetMs: this.#tuning.maxClockOffsetMs,
      setMayLead: (mayLead) => this.raft.setMayLead(mayLead),
      isLeader: () => this.isLeader,
      handOver: () => this.transferLeadership(),
      onVerdict: (verdict, maxOffsetMs) => this.#events.onClockVerdict?.(verdict, maxOffsetMs),
    });
  }

  /** The leader's schedule firing, on the state machine's schedules and this node's proposals. */
  #scheduleFiring(): ScheduleFiring {
    return new ScheduleFiring({
      isLeader: () => this.isLeader,
      committedInTerm: () => this.raft.committedInTerm(),
      term: () => this.raft.term,
      nowMs: () => this.#queueClock.peek(this.sm.nowMs),
      due: (nowMs, limit) => this.sm.schedules.due(nowMs, limit),
      propose: (cmd) => this.propose(cmd),
    }, this.#tuning.busyFiringBatchMs);
  }

  start(): void {
    this.#loopDelay.start(performance.now());
    this.#tickTimer = setInterval(() => {
      this.#timeTick();
      this.raft.tick();
      this.#waiters.expire(Date.now()); // (one sweep a tick)
      this.#watches.poll();
      this.#schedule();
    }, this.#tuning.tickMs);
    this.#dueTimer = setInterval(() => {
      this.#clock.check(performance.now());
      this.#maybeProposeTick();
      this.#firing.maybeFire();
    }, this.#tuning.dueCheckEveryMs);
    // A lone voter need not wait for an election timeout to lead.
    if (this.raft.membership.members.length === 1 && this.raft.promotable()) this.raft.campaign();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#tickTimer);
    clearInterval(this.#dueTimer);
    // A write already in the log may commit without us: its outcome is unknown, not refused.
    this.#failAll(shuttingDown);
    this.#loop.stop();
    this.#watches.stop();
  }

  get queue(): QueueReads {
    return this.sm;
  }

  members(): Member[] {
    return this.raft.membership.members.map((m) => ({ ...m }));
  }

  /** A copy of this node's state (see NodeStatus). */
  status(): NodeStatus {
    const raft = this.raft;
    const members = raft.membership.members;
    const lastIndex = raft.log.lastIndex();
    const leading = raft.role === "leader";
    const leader = members.find((m) => m.id === raft.leader);
    return {
      id: this.id,
      role: raft.role,
      term: raft.term,
      leader: raft.leader ? { id: raft.leader, url: leader?.url ?? null } : null,
      commitIndex: raft.commit,
      appliedIndex: this.sm.appliedIndex,
      lastLogIndex: lastIndex,
      snapshotIndex: raft.log.snapshot.index,
      imageIndex: raft.image?.index ?? null,
      counters: { ...this.sm.tallies },
      clock: this.clockStatus,
      eventLoop: { delayMaxMs: Math.round(this.#loopDelay.maxRecentMs(performance.now())) },
      timing: {
        heartbeatMs: this.#tuning.tickMs * this.#tuning.heartbeatTicks,
        electionMs: this.#electionMs,
      },
      members: members.map((m) => {
        const match = m.id === this.id ? raft.stableIndex : raft.progress.get(m.id)?.match ?? null;
        return {
          id: m.id,
          url: m.url,
          voter: m.voter,
          matchIndex: leading ? match : null,
          lagEntries: leading && match !== null ? Math.max(0, lastIndex - match) : null,
          catchUp: this.#joins.status(m.id, performance.now()),
        };
      }),
    };
  }

  whenLeader(id: string, timeoutMs: number): Promise<boolean> {
    return this.#watches.until(() => this.raft.leader === id, timeoutMs);
  }

  async addMember(id: string, url: string, refusal: () => string | undefined): Promise<void> {
    const existing = this.raft.membership.members.find((m) => m.id === id);
    if (existing && existing.url !== url) {
      throw new RaftqError("conflict", `node ${id} is already a member at ${existing.url}`);
    }
    if (existing?.voter) return;
    if (!existing) await this.proposeConfChange({ type: "addLearner", id, url });
    // A learner first: it receives the log (or a snapshot) without counting toward quorum.
    const outcome = await this.#catchUp(id, refusal);
    if (outcome === "not_leader") {
      throw new RaftqError("no_leader", "Leadership changed during the join; retry", 1);
    }
    if (outcome !== "caught_up") {
      await this.proposeConfChange({ type: "remove", id, url: "" }).catch(() => {});
      throw new RaftqError("conflict", `node ${id} ${outcome}; it was removed again`);
    }
    await this.proposeConfChange({ type: "promote", id, url });
  }

  /**
   * Waits while learner `id` catches up with what was committed when it joined. It may take as
   * long as it keeps making progress (entries or snapshot bytes), up to catchUpTimeoutMs; no
   * progress for catchUpStallMs gives it up. Answers "caught_up", "not_leader" or the reason.
   */
  async #catchUp(id: string, refusal: () => string | undefined): Promise<string> {
    const startedMs = performance.now();
    this.#joins.begin(id, startedMs);
    try {
      for (;;) {
        await this.#watches.until(
          () => !this.isLeader || refusal() !== undefined || this.#joins.caughtUp(id),
          1_000,
        );
        if (!this.isLeader) return "not_leader";
        const refused = refusal();
        if (refused !== undefined) return `refused this cluster's peer link (${refused})`;
        if (this.#joins.caughtUp(id)) return "caught_up";
        const now = performance.now();
        const stalledMs = this.#joins.stalledMs(id, now);
        if (stalledMs >= this.#tuning.catchUpStallMs) {
          return `made no progress for ${Math.round(stalledMs / 1000)} s (unreachable?)`;
        }
        if (now - startedMs >= this.#tuning.catchUpTimeoutMs) {
          return `did not catch up within ${Math.round(this.#tuning.catchUpTimeoutMs / 1000)} s`;
        }
      }
    } finally {
      this.#joins.end(id);
    }
  }

  removeMember(id: string): Promise<void> {
    return this.proposeConfChange({ type: "remove", id, url: "" });
  }

  get isLeader(): boolean {
    return this.raft.role === "leader";
  }

  get leaderId(): string {
    return this.raft.leader;
  }

  /** Whether this node is a member and knows a leader (readiness). */
  get ready(): boolean {
    return this.raft.leader !== NONE && this.raft.membership.members.some((m) => m.id === this.id);
  }

  /** A validated message from an authenticated peer. */
  receive(m: Message): void {
    if (this.#stopped) return;
    this.raft.step(m);
    this.#schedule();
  }

  /** Proposes a membership change; resolves once it is applied here. */
  proposeConfChange(change: ConfChange): Promise<void> {
    if (!this.isLeader) return Promise.reject(noLeader());
    return new Promise((resolve, reject) => {
      const r = this.raft.proposeConfChange(change);
      if (!r.ok) {
        reject(
          r.error === "not_leader"
            ? noLeader()
            : new RaftqError(r.error === "invalid_conf" ? "conflict" : "unavailable", r.message, 1),
        );
        return;
      }
      this.#waiters.add(r.firstIndex, {
        term: r.term,
        resolve: () => resolve(),
        reject,
        deadlineMs: Date.now() + this.#tuning.requestTimeoutMs,
      });
      this.#schedule();
    });
  }

  /** Starts a leadership transfer (to `to`, or the most up-to-date voter). */
  transferLeadership(to?: string): string {
    const r = this.raft.transferLeadership(to);
    if (!r.ok) throw new RaftqError("conflict", r.message);
    this.#schedule();
    return r.to;
  }

  /** Proposes a queue command stamped with this leader's clock; resolves once applied. */
  propose(cmd: QueueCommand): Promise<ApplyResult> {
    if (this.#stopped) {
      return Promise.reject(shuttingDown());
    }
    if (!this.isLeader) return this.#forward(cmd);
    return new Promise((resolve, reject) => {
      this.#proposals.push({ cmd, resolve, reject });
      this.#schedule();
    });
  }

  /** A follower's write goes to the leader over the peer link, when there is one to use. */
  #forward(cmd: QueueCommand): Promise<ApplyResult> {
    const leader = this.leaderId;
    const transport = this.transport;
    if (!leader || leader === this.id || !transport.forwardProposal) {
      return Promise.reject(noLeader());
    }
    const forwarder = { forwardProposal: transport.forwardProposal.bind(transport) };
    return forwardWrite(forwarder, leader, cmd, this.#tuning.requestTimeoutMs);
  }

  /** A write a member forwarded over the peer link (see acceptForwarded). */
  acceptForwarded(cmd: string, from: string): Promise<Record<string, unknown>> {
    return acceptForwarded(this.#forwardTarget(), cmd, from);
  }

  /** A follower's read index request over the peer link (see acceptReadIndex). */
  acceptReadIndex(from: string): Promise<Record<string, unknown>> {
    return acceptReadIndex(this.#forwardTarget(), from);
  }

  /** What the leader's side of a forward needs of this node, as it stands now. */
  #forwardTarget(): ForwardTarget {
    return {
      isLeader: this.isLeader,
      isMember: (id) => this.raft.membership.members.some((m) => m.id === id),
      propose: (c) => this.propose(c),
      readIndex: () => this.readIndex(),
    };
  }

  /** Resolves once a read at this moment would be linearizable (ReadIndex, then apply). */
  async linearizableBarrier(): Promise<void> {
    await this.#appliedUpTo(await this.readIndex());
  }

  /**
   * A linearizable read point on any node. A leader runs ReadIndex; a follower asks the leader
   * for its read index over the peer link and applies up to it before serving (etcd's follower
   * reads): the read sees every write acknowledged before it began.
   */
  async readPoint(): Promise<void> {
    if (this.isLeader) return await this.linearizableBarrier();
    const leader = this.leaderId;
    const transport = this.transport;
    if (!leader || leader === this.id || !transport.forwardRead) throw noLeader();
    const forwarder = { forwardRead: transport.forwardRead.bind(transport) };
    await this.#appliedUpTo(
      await forwardReadIndex(forwarder, leader, this.#tuning.requestTimeoutMs),
    );
  }

  /** This leader's read index, once a round of heartbeats confirms it still leads. */
  readIndex(): Promise<number> {
    if (!this.isLeader) return Promise.reject(noLeader());
    const read = this.#reads.request();
    this.#schedule();
    return read;
  }

  /** Resolves once this node has applied `index` (a role change rejects it: no_leader). */
  #appliedUpTo(index: number): Promise<void> {
    return this.#reads.appliedUpTo(index);
  }

  #schedule(): void {
    this.#loop.schedule();
  }

  /** Takes a snapshot now (POST /admin/snapshot): inside the loop, never mid-Ready. */
  requestSnapshot(): Promise<number> {
    if (this.#stopped) return Promise.reject(shuttingDown());
    return new Promise((resolve, reject) => {
      this.#loop.requestSnapshot((error, index) => {
        if (!error) resolve(index);
        else reject(this.#stopped ? shuttingDown() : error);
      });
    });
  }

  /** The loop's hooks: what the node does around the Readies. */
  #hooks(): LoopHooks<ApplyResult> {
    return {
      feed: (flushing) => {
        this.#flushProposals();
        if (!flushing) this.#startReads();
      },
      applied: (entries, results) => {
        this.#answerCommitted(entries, results);
        this.#reads.release();
      },
      readied: (rd) => this.#readied(rd),
      snapshot: (kind, index) => this.#events.onSnapshot?.(kind, index),
      fatal: (error) => {
        if (this.#stopped) return;
        this.stop();
        this.#events.onFatal(error);
      },
    };
  }

  #startReads(): void {
    const ids = this.#reads.takeToStart();
    if (ids.length > 0) this.raft.readIndex(ids);
  }

  #flushProposals(): void {
    if (this.#proposals.length === 0) return;
    const stampMs = this.#queueClock.next(this.sm.nowMs);
    const { batch, datas } = encodeProposals(this.#proposals, stampMs);
    this.#proposals = [];
    if (batch.length === 0) return;
    const r = this.raft.propose(datas);
    if (!r.ok) {
      const error = r.error === "not_leader"
        ? noLeader()
        : new RaftqError("no_leader", r.message, 1);
      for (const p of batch) p.reject(error);
      return;
    }
    this.metrics.proposals.inc({}, batch.length);
    this.#trace.proposed(r.firstIndex);
    const deadlineMs = Date.now() + this.#tuning.requestTimeoutMs;
    batch.forEach((p, k) => {
      this.#waiters.add(r.firstIndex + k, {
        term: r.term,
        resolve: p.resolve,
        reject: p.reject,
        deadlineMs,
      });
    });
  }

  /**
   * A Ready's reads and soft state, after its write and its applied hook (see ReadyLoop): a read
   * confirmed here waits for its index through appliedUpTo, which releases it if it is applied.
   */
  #readied(rd: Ready): void {
    this.#reads.settle(rd.readStates, rd.droppedReads);
    if (!rd.softState) return;
    this.#watches.poll();
    if (rd.softState.leader !== this.#lastLeader) {
      this.#lastLeader = rd.softState.leader;
      this.metrics.leaderChanges.inc();
    }
    if (rd.softState.role !== "leader") {
      this.#failAll(noLeader);
      this.#tickProposed = false;
    } else this.#queueClock.restart(this.sm.nowMs);
    this.#events.onRoleChange?.(rd.softState.role, rd.softState.term, rd.softState.leader);
  }

  /** Answers the writers of applied entries, and reports applied membership changes. */
  #answerCommitted(entries: readonly Entry[], results: Map<number, ApplyResult>): void {
    this.#waiters.answer(entries, results);
    for (const [index, r] of results) {
      if (r.type === "error" && r.code === "apply_failed") {
        this.#events.onApplyFailed?.(index, r.message);
      }
    }
    for (const e of entries) {
      if (e.kind !== "conf" || !e.change) continue;
      this.#events.onMembershipChange?.(e.change);
      if (e.change.type === "remove" && e.change.id === this.id) this.#events.onRemoved?.();
    }
  }

  /**
   * Fails every waiting request: writes already in the log with outcome_unknown (they may commit
   * without us), writes not yet proposed with `queued()`, reads with no_leader.
   */
  #failAll(queued: () => RaftqError): void {
    this.#waiters.failAll();
    for (const p of this.#proposals) p.reject(queued());
    this.#proposals = [];
    this.#reads.failAll();
  }

  /** How late this tick fired: the histogram, and a log line when it is long (see LoopDelay). */
  #timeTick(): void {
    const nowMs = performance.now();
    const delayMs = this.#loopDelay.tick(nowMs);
    this.metrics.loopDelaySeconds.observe(delayMs / 1000);
    if (delayMs >= this.#electionMs / 2 && this.#loopDelay.shouldReport(nowMs)) {
      this.#events.onLoopDelayed?.(Math.round(delayMs), this.#electionMs);
    }
  }

  /** The least election timeout, in ms (--election-ms). */
  get #electionMs(): number {
    return this.#tuning.tickMs * this.#tuning.electionTicks;
  }

  /** The clock verdict and what it allows, as the API shows it. */
  get clockStatus(): { mayLead: boolean; maxOffsetMs: number; queueNowMs: number } {
    return {
      mayLead: this.#clock.mayLead,
      maxOffsetMs: this.#tuning.maxClockOffsetMs,
      queueNowMs: this.isLeader ? this.#queueClock.peek(this.sm.nowMs) : this.sm.nowMs,
    };
  }

  /**
   * A leader proposes a tick when a lease, a delay or retention has come due; while bounded work
   * goes on (a job's end with waiting jobs still to tell, groups still to set after a change of
   * groupConcurrency) or the last tick took a whole batch of due work, the next tick follows the
   * last one's apply at once.
   */
  #maybeProposeTick(): void {
    if (!this.isLeader || this.#tickProposed || !this.raft.committedInTerm()) return;
    const due = this.sm.nextDueMs(this.#tuning.retentionMs);
    if (due === null || due > this.#queueClock.peek(this.sm.nowMs)) return;
    this.#tickProposed = true;
    this.propose({ type: "tick", retentionMs: this.#tuning.retentionMs })
      .then((r) => {
        this.#tickProposed = false;
        if (this.sm.workPending || (r.type === "ticked" && r.more)) this.#maybeProposeTick();
      }, () => {
        this.#tickProposed = false;
      });
  }
}
