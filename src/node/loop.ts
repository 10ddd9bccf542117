// The Ready loop, written once against its ports: production and the simulator run this code.

import { type Entry, entryBytes, type Message, type Raft, type Ready } from "../raft/mod.ts";
import type { AppliedState, LogStore, PeerSender, Scheduler } from "./ports.ts";
import { Snapshotter } from "./snapshots.ts";
import { CommitHold } from "./commit_hold.ts";
import type { WriteTrace } from "./write_trace.ts";

/** What the loop tells the node around it. `R` is the state machine's answer to an entry. */
export interface LoopHooks<R> {
  /**
   * Puts what the node queued (proposals, reads) into the core: before each Ready, and while a
   * flush runs (`flushing`: the appends it causes leave at once).
   */
  feed(flushing: boolean): void;
  /** Entries were applied, with each normal entry's answer by index: answer their writers. */
  applied(entries: readonly Entry[], results: Map<number, R>): void;
  /** A Ready was written (not yet flushed): its read states, dropped reads, soft state. */
  readied(rd: Ready): void;
  /** A snapshot was taken here, received whole (its install begins), installed, or compacted. */
  snapshot?(kind: "taken" | "installing" | "installed" | "compacted", index: number): void;
  /** The loop stopped itself: a storage failure or a broken invariant. */
  fatal(error: Error): void;
}

/** Figures the loop reports (histograms in production). */
export interface LoopMetrics {
  appendBatch(entries: number): void;
  applySeconds(seconds: number): void;
  fsyncSeconds(seconds: number): void;
}

export interface LoopPorts<R> {
  store: LogStore;
  sm: AppliedState<R>;
  peers: PeerSender;
  scheduler: Scheduler;
  /** A monotonic clock in milliseconds, for the figures only. */
  monoMs(): number;
  metrics?: LoopMetrics;
  /** Follows a proposed entry through the stages below (the node's raftq_write_stage_seconds). */
  trace?: WriteTrace;
}

/**
 * `idle`: nothing in hand. `writing`: handling Readies (synchronously, in one turn). `installing`:
 * a received snapshot replaces the state machine (off the event loop). `flushing`: a Ready is
 * written and its flush runs. While installing or flushing, inputs still reach the core (see
 * #duringFlush).
 */
export type LoopState = "idle" | "writing" | "installing" | "flushing";

interface Written<R> {
  results: Map<number, R>;
  startedMs: number;
}

const stoppedError = () => new Error("the node is stopping");

/**
 * Drains the core's Readies in the order Raft's safety needs. A Ready's messages leave first (a
 * leader's appends may go before its own write); then one write holds its entries, hard state and
 * snapshot; then, if the Ready must be durable, its flush begins; then its committed entries
 * (durable on a majority already) are applied and their writers answered at once — in the write
 * itself when there is no flush. Only when the flush is done do votes and append
 * acknowledgements leave (persistedMessages) and the core count the entries as this node's
 * (advance). While the flush runs, new proposals' appends leave and, on a leader,
 * entries a majority acknowledged are applied and answered: group commit without a stall.
 */
export class ReadyLoop<R> {
  #state: LoopState = "idle";
  #scheduled = false;
  #stopped = false;
  readonly #snapshots: Snapshotter;
  /** Where messages leave: commit-only appends held briefly (see CommitHold). */
  readonly #peers: CommitHold;

  constructor(
    readonly raft: Raft,
    readonly ports: LoopPorts<R>,
    readonly hooks: LoopHooks<R>,
    /**
     * Compact the log once this many entries are applied past the last snapshot, or once its
     * entries exceed `aboveBytes` (then keeping the newest half of that).
     */
    readonly compaction: { everyEntries: number; aboveBytes: number },
  ) {
    this.#peers = new CommitHold(ports.peers, ports.scheduler);
    this.#snapshots = new Snapshotter(
      raft,
      ports.store,
      ports.sm,
      () => this.schedule(),
      (index) => this.hooks.snapshot?.("taken", index),
    );
  }

  get state(): LoopState {
    return this.#state;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Something reached the core (a message, a tick, a proposal): handle it in a later turn — the
   * next (`soon`), or (`afterIo`) one after pending I/O, on a timer: under Deno 2.9 a chain of
   * setImmediate callbacks runs before any socket is read again (a chain of them held a fetch for
   * 300 ms in a throwaway test; timers fired between them).
   */
  schedule(afterIo = false): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    const turn = () => {
      this.#scheduled = false;
      this.#run();
    };
    if (afterIo) this.ports.scheduler.after(0, turn);
    else this.ports.scheduler.soon(turn);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#peers.stop();
    this.#snapshots.abandon(stoppedError());
  }

  /** A follower needs a snapshot and none is materialized: make one (outside the core's call). */
  wantSnapshot(): void {
    this.#snapshots.want();
    this.schedule();
  }

  /**
   * Takes a snapshot and compacts the log up to it, between Readies, as far as no follower that
   * is replicating needs (see Raft.catchUpFloor); `done` gets the image's index.
   */
  requestSnapshot(done: (error: Error | null, index: number) => void): void {
    if (this.#stopped) return done(stoppedError(), 0);
    this.#snapshots.request((error, index) => {
      if (error === null) {
        this.#guard(() => this.#compactTo(Math.min(index, this.raft.catchUpFloor())));
      }
      done(error, index);
    });
    this.schedule();
  }

  #run(): void {
    if (this.#stopped) return;
    if (this.#state === "flushing" || this.#state === "installing") {
      return this.#guard(() => this.#duringFlush());
    }
    this.#guard(() => {
      this.#state = "writing";
      this.hooks.feed(false);
      this.#drain();
    });
  }

  /**
   * Handles Readies until the core has none, or one must be flushed before the next, or this turn
   * applied about a Ready's worth of committed entries (the rest wait for a later turn, so
   * requests and peer frames are served between: see RaftConfig.maxCommittedBytesPerReady).
   */
  #drain(): void {
    let appliedBytes = 0;
    while (!this.#stopped && this.raft.hasReady()) {
      if (appliedBytes >= this.raft.committedBytesPerReady) {
        this.#state = "idle";
        return this.schedule(true);
      }
      const rd = this.raft.ready();
      this.#send(rd.messages);
      if (rd.snapshot) return this.#install(rd);
      if (rd.mustSync) return this.#writeAndFlush(rd);
      const written = this.#write(rd, rd.committedEntries);
      this.#answer(rd, written);
      if (this.#stopped) return; // it applied its own removal, or its hooks stopped it
      this.#finish(rd, written);
      this.hooks.feed(false);
      for (const e of rd.committedEntries) appliedBytes += entryBytes(e);
    }
    this.#state = "idle";
    this.#snapshots.step(this.#behindStateMachine());
  }

  /**
   * A received snapshot is installed before anything else of its Ready is written (its entries
   * follow the snapshot): the store replaces the state machine and the log in one durable step,
   * the state machine re-reads itself, then the rest of the Ready goes as any other.
   */
  #install(rd: Ready): void {
    this.#state = "installing";
    this.hooks.snapshot?.("installing", rd.snapshot!.index);
    this.ports.store.install(rd.snapshot!, rd.snapshotChunks, (error) => {
      if (this.#stopped) return;
      if (error) return this.#fail(error);
      this.#guard(() => {
        this.ports.sm.reload();
        const written = this.#write({ ...rd, snapshotChunks: [] }, rd.committedEntries);
        this.#answer(rd, written);
        if (!this.#stopped) this.#flush(rd, written);
      });
    });
  }

  /**
   * A Ready that must be durable: its entries and hard state are written and their flush begins,
   * then its committed entries are applied and answered while the disk works (in their own
   * transaction: they are durable on a majority already, and a lost apply is replayed from the
   * log at start-up). So an apply is never between a follower's receipt of entries and its
   * acknowledgement of them.
   */
  #writeAndFlush(rd: Ready): void {
    const written = this.#write(rd, []);
    this.#flush(rd, written);
    written.results = this.#apply(rd.committedEntries);
    this.#answer(rd, written);
  }

  #flush(rd: Ready, written: Written<R>): void {
    this.#state = "flushing";
    this.ports.store.flush((error) => {
      if (this.#stopped) return;
      if (error) return this.#fail(error);
      this.ports.trace?.reached("flushed", rd.entries);
      this.#guard(() => {
        this.#finish(rd, written);
        this.#state = "idle";
        this.#run();
      });
    });
  }

  /**
   * While a flush runs: queued proposals join the log and their appends leave at once, so the
   * followers' flushes overlap this one; a leader applies and answers what a majority has made
   * durable, of the entries it has written (those proposed meanwhile apply in the next Ready,
   * which writes them). (A follower applies what the leader's next append says is committed.)
   */
  #duringFlush(): void {
    this.hooks.feed(true);
    this.#send(this.raft.takeMessages());
    if (this.raft.role !== "leader") return;
    const committed = this.raft.takeCommittedEntries();
    if (committed.length === 0) return;
    this.hooks.applied(committed, this.#apply(committed));
  }

  /** One write: the Ready's durable parts and the apply of `applying` (committed entries). */
  #write(rd: Ready, applying: readonly Entry[]): Written<R> {
    const startedMs = this.ports.monoMs();
    let results = new Map<number, R>();
    // (A Ready of messages alone, a heartbeat round, writes nothing at all.)
    const anything = rd.mustSync || rd.hardState !== null || applying.length > 0 ||
      rd.snapshotChunks.length > 0;
    if (anything) this.ports.store.write(rd, () => (results = this.#apply(applying)));
    this.ports.trace?.reached("written", rd.entries);
    return { results, startedMs };
  }

  /** Messages leave; a traced entry's append among them is "sent". */
  #send(messages: readonly Message[]): void {
    this.#peers.send(messages);
    const trace = this.ports.trace;
    if (!trace) return;
    for (const m of messages) if (m.type === "append") trace.reached("sent", m.entries);
  }

  #apply(entries: readonly Entry[]): Map<number, R> {
    if (entries.length === 0) return new Map();
    this.ports.trace?.reached("committed", entries);
    const started = this.ports.monoMs();
    const results = this.ports.sm.applyEntries(entries);
    this.ports.metrics?.applySeconds((this.ports.monoMs() - started) / 1000);
    this.ports.trace?.reached("applied", entries);
    return results;
  }

  /**
   * After the write, before its flush: writers of the applied entries and reads are answered. No
   * flush is needed for that: a committed entry is durable on a majority already (a leader counts
   * itself only after its own flush), and a lost apply is replayed from the log at start-up.
   */
  #answer(rd: Ready, written: Written<R>): void {
    if (rd.entries.length > 0) this.ports.metrics?.appendBatch(rd.entries.length);
    this.hooks.applied(rd.committedEntries, written.results);
    this.hooks.readied(rd);
  }

  /** After the Ready is durable: what promised durability leaves, and the core advances. */
  #finish(rd: Ready, written: Written<R>): void {
    if (rd.mustSync) {
      this.ports.metrics?.fsyncSeconds((this.ports.monoMs() - written.startedMs) / 1000);
    }
    if (rd.snapshot) this.hooks.snapshot?.("installed", rd.snapshot.index);
    this.#peers.send(rd.persistedMessages);
    this.raft.advance(rd);
    this.#maybeCompact();
  }

  /**
   * Whether the state machine is ahead of the durable log here, so no snapshot can be taken at
   * its index yet: a leader applies entries its followers made durable before its own flush of
   * them (never before its write of them: the apply's transaction follows the entries', so no
   * crash keeps the apply and loses the entries).
   */
  #behindStateMachine(): boolean {
    const applied = this.ports.sm.appliedIndex;
    return applied > this.raft.stableIndex || applied > this.raft.applied;
  }

  /**
   * Periodic compaction copies nothing: the state machine in the store already holds the state,
   * so only the covered log goes. Snapshot bytes are made when a follower asks (wantSnapshot).
   */
  #maybeCompact(): void {
    const log = this.raft.log;
    if (this.#snapshots.busy || this.#sendingImage()) return;
    // Only what is applied and persisted here (see #behindStateMachine).
    let upTo = Math.min(this.ports.sm.appliedIndex, this.raft.stableIndex, this.raft.applied);
    if (log.bytes() > this.compaction.aboveBytes) {
      // Bounded by size: followers a little behind still find their entries in the log.
      upTo = Math.min(upTo, log.indexKeeping(this.compaction.aboveBytes / 2));
    } else {
      // Below the size bound, no follower that is replicating is cut off (it would need an
      // image, and each image a slow follower installs would leave it behind the next one),
      // unless it is ten compaction intervals behind.
      const keepFrom = upTo - 10 * this.compaction.everyEntries;
      upTo = Math.min(upTo, Math.max(this.raft.catchUpFloor(), keepFrom));
      if (upTo - log.snapshot.index < this.compaction.everyEntries) return;
    }
    this.#compactTo(upTo);
  }

  /** Compacts the log up to `upTo` (applied and persisted here). */
  #compactTo(upTo: number): void {
    if (upTo <= this.raft.log.snapshot.index) return;
    const meta = this.raft.compact(upTo);
    this.ports.store.compact(meta);
    this.hooks.snapshot?.("compacted", meta.index);
  }

  /**
   * Whether a follower is being sent the current image: compacting now would make it start over
   * with a newer one, again and again under load. Held until the log holds four times the
   * compaction threshold, so a follower that stopped answering cannot hold it for ever.
   */
  #sendingImage(): boolean {
    if (this.raft.role !== "leader") return false;
    if (this.raft.log.bytes() > 4 * this.compaction.aboveBytes) return false;
    for (const pr of this.raft.progress.values()) if (pr.state === "snapshot") return true;
    return false;
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    if (this.#stopped) return;
    this.stop();
    this.hooks.fatal(error instanceof Error ? error : new Error(String(error)));
  }
}
