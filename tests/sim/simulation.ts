// The deterministic cluster simulator: seeded faults around real Raft cores, checked every step.

import {
  bootstrapInit,
  type ConfChange,
  emptyInit,
  type Entry,
  isVoter,
  memberIds,
  type Message,
  type NodeId,
  parseMessage,
  type RaftInit,
  type Ready,
  voterIds,
} from "../../src/raft/mod.ts";
import { Checker, SafetyViolation } from "./checker.ts";
import { Network, type NetworkFaults } from "./network.ts";
import { Prng } from "./prng.ts";
import { SimScheduler } from "./scheduler.ts";
import { type NodeEnv, SimNode } from "./sim_node.ts";
import { MemoryStore, type SimStore, type StoreObserver } from "./store.ts";
import type { SmState } from "./state_machine.ts";

export interface SimOptions {
  seed: number;
  /** Founding voters (3, 5 or 7 in the standard runs). */
  nodes: number;
  /** Ticks of the safety phase, with faults on. */
  steps: number;
  /**
   * Ticks the healed cluster may go without progress (a member applying more) before it must have
   * a leader that committed an entry every member applied; at most ten times this in all.
   */
  livenessTicks?: number;
  trace?: (line: string) => void;
  /** Snapshot chunk sizes a seed draws from (the queue's snapshots are larger than a hash's). */
  chunkBytes?: readonly number[];
  /** What the n-th client write proposes (its data); `w<n>` unless given. */
  command?: (seq: number, stampMs: number) => string;
  /** Memory stores that report flushes done before they are (to show the checkers bite). */
  lyingDisks?: boolean;
  /** Test of the checker: the liveness phase drops every message, so nothing can progress. */
  deafLiveness?: boolean;
  /** Where nodes keep their state; in memory unless given. */
  makeStore?: (
    id: NodeId,
    init: RaftInit,
    scheduleFlush: (complete: () => void) => void,
    observer: StoreObserver,
  ) => SimStore;
}

export interface SimResult {
  seed: number;
  nodes: number;
  /** The faults this seed drew (network, crashes, disk), to read a failure by. */
  profile: string;
  ok: boolean;
  error?: string;
  elections: number;
  commits: number;
  reads: number;
  crashes: number;
  snapshotsInstalled: number;
  /** Snapshots taken on request (POST /admin/snapshot's path), answered with their index. */
  snapshotsTaken: number;
  confChanges: number;
  transfers: number;
  messages: number;
}

export class LivenessViolation extends Error {}

const tickMs = 10;

interface FaultProfile {
  net: NetworkFaults;
  crashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
  writeRate: number;
  readRate: number;
  confRate: number;
  transferRate: number;
  compactEvery: number;
  chunkBytes: number;
  /** How long a flush takes (ms, then up to as much again at random). */
  flushMs: number;
  /** Probability that a flush stalls for 20 to 200 ms (a slow disk). */
  flushStallRate: number;
  /** Probability that a crash is a power loss (writes no completed flush covered are lost). */
  powerLossRate: number;
  /** Bytes of persisted entries a core keeps in memory; -1 for all of them. */
  logMemoryBytes: number;
  /** Compact once the log's entries exceed this many bytes; -1 for never by size. */
  compactAboveBytes: number;
  /** Bytes of committed entries a Ready hands out (the default, or a few entries' worth). */
  committedBytesPerReady: number;
  /** How long a silent follower holds compaction back: two election timeouts, or far longer. */
  catchUpHoldTicks: number;
  /** Entry bytes in flight to a follower: the default, two appends' worth, or less than one. */
  inflightBytes: number;
  /** Probability a step asks a live node for a snapshot (POST /admin/snapshot). */
  snapshotRequestRate: number;
}

function drawProfile(rng: Prng, chunkBytes: readonly number[]): FaultProfile {
  return {
    net: {
      dropRate: rng.pick([0, 0.01, 0.05, 0.15]),
      duplicateRate: rng.pick([0, 0.02, 0.1]),
      minDelayMs: 1,
      maxDelayMs: rng.pick([2, 5, 15]),
      longDelayRate: rng.pick([0, 0.02, 0.1]),
      longDelayMs: rng.pick([50, 200]),
    },
    crashRate: rng.pick([0, 0.002, 0.01]),
    restartRate: rng.pick([0.02, 0.1]),
    partitionRate: rng.pick([0, 0.005, 0.02]),
    healRate: rng.pick([0.02, 0.1]),
    writeRate: rng.pick([0.2, 0.6]),
    readRate: rng.pick([0.05, 0.3]),
    confRate: rng.pick([0, 0.005, 0.02]),
    transferRate: rng.pick([0, 0.003, 0.01]),
    compactEvery: rng.pick([20, 60, 200]),
    chunkBytes: rng.pick(chunkBytes),
    flushMs: rng.pick([0, 1, 3, 10]),
    flushStallRate: rng.pick([0, 0.01, 0.05]),
    powerLossRate: rng.pick([0, 0.5, 1]),
    logMemoryBytes: rng.pick([-1, 2000, 200]),
    compactAboveBytes: rng.pick([-1, 3000, 30_000]),
    // (drawn last, so the other figures stay what each seed drew before it existed)
    committedBytesPerReady: rng.pick([256 * 1024, 2000, 500]),
    catchUpHoldTicks: rng.pick([20, 200, 6_000]),
    inflightBytes: rng.pick([2 * 1024 * 1024, 800, 300]),
    snapshotRequestRate: rng.pick([0, 0, 0.002, 0.01]),
  };
}

export class Simulation {
  readonly rng: Prng;
  readonly net: Network;
  readonly checker = new Checker();
  readonly nodes = new Map<NodeId, SimNode>();
  readonly profile: FaultProfile;
  readonly scheduler = new SimScheduler();
  #env: NodeEnv;
  #fatal: Error | null = null;
  #nextNodeNumber: number;
  #writeSeq = 0;
  #readSeq = 0;
  #pendingWrites = new Map<number, { term: number; node: NodeId }>();
  #pendingReads = new Map<string, { node: NodeId; ackedBefore: number }>();
  #faultRng: Prng;
  #trace?: (line: string) => void;
  result: SimResult;

  constructor(readonly options: SimOptions) {
    this.rng = new Prng(options.seed);
    this.#faultRng = this.rng.fork();
    this.profile = drawProfile(this.rng.fork(), options.chunkBytes ?? [8, 32, 4096]);
    this.net = new Network(this.rng.fork(), { ...this.profile.net });
    this.#trace = options.trace;
    this.#env = this.#makeEnv();
    this.result = {
      seed: options.seed,
      nodes: options.nodes,
      profile: JSON.stringify(this.profile),
      ok: true,
      elections: 0,
      commits: 0,
      reads: 0,
      crashes: 0,
      snapshotsInstalled: 0,
      snapshotsTaken: 0,
      confChanges: 0,
      transfers: 0,
      messages: 0,
    };
    const founders = Array.from({ length: options.nodes }, (_, k) => ({
      id: `n${k + 1}`,
      url: `sim://n${k + 1}`,
    }));
    this.#nextNodeNumber = options.nodes + 1;
    for (const f of founders) this.#addNode(f.id, bootstrapInit(founders)).start();
    this.#log(`profile ${JSON.stringify(this.profile)}`);
  }

  #log(line: string): void {
    this.#trace?.(`t=${this.now} ${line}`);
  }

  get now(): number {
    return this.scheduler.now;
  }

  #addNode(id: NodeId, init: RaftInit): SimNode {
    const rng = this.rng.fork();
    const drift = rng.range(-2, 2);
    const observer = this.#storeObserver(id);
    const flush = (complete: () => void) =>
      this.scheduler.at(this.now + this.#flushDelayMs(), complete);
    const lie = this.options.lyingDisks ? (fn: () => void) => this.scheduler.soon(fn) : undefined;
    const store = this.options.makeStore?.(id, init, flush, observer) ??
      new MemoryStore(init, flush, observer, lie);
    const node = new SimNode(id, tickMs + drift, rng, store, this.#env, this.now + rng.int(tickMs));
    this.nodes.set(id, node);
    return node;
  }

  #command(seq: number): string {
    return this.options.command?.(seq, this.now) ?? `w${seq}`;
  }

  /** A flush's duration, drawn per flush: the disk's latency is a fault like any other. */
  #flushDelayMs(): number {
    const p = this.profile;
    const rng = this.#faultRng;
    if (rng.chance(p.flushStallRate)) return rng.range(20, 200);
    return p.flushMs + rng.int(p.flushMs + 1);
  }

  #storeObserver(id: NodeId): StoreObserver {
    return {
      persisted: (rd, termAt) => {
        if (rd.entries.length > 0) this.checker.onPersistEntries(id, rd.entries, termAt);
        if (rd.hardState) this.checker.onHardState(id, rd.hardState);
      },
      appliedUnwritten: (e) => this.checker.onAppliedUnwritten(id, e),
      installed: (meta, sm) => {
        this.checker.onSnapshotInstalled(id, meta, sm);
        this.#log(`${id} installed snapshot ${meta.index}`);
      },
    };
  }

  /** How nodes reach the simulation: the network, the scheduler, the checker. */
  #makeEnv(): NodeEnv {
    return {
      scheduler: this.scheduler,
      send: (m) => this.net.send(m, this.now),
      chunkBytes: this.profile.chunkBytes,
      committedBytesPerReady: this.profile.committedBytesPerReady,
      catchUpHoldTicks: this.profile.catchUpHoldTicks,
      inflightBytes: this.profile.inflightBytes,
      compactEvery: this.profile.compactEvery,
      logMemoryBytes: this.profile.logMemoryBytes < 0 ? Infinity : this.profile.logMemoryBytes,
      compactAboveBytes: this.profile.compactAboveBytes < 0
        ? Infinity
        : this.profile.compactAboveBytes,
      applied: (node, e, after) => this.#applied(node, e, after),
      answered: (node, entries) => this.#answered(node, entries),
      readied: (node, rd) => this.#readied(node, rd),
      snapshot: (node, kind, index) => {
        if (kind === "installed") this.result.snapshotsInstalled++;
        if (kind === "taken") this.#log(`${node.id} took a snapshot at ${index}`);
      },
      fatal: (node, error) => {
        this.#fatal ??= new Error(`${node.id}: the loop stopped: ${error.stack ?? error.message}`);
      },
    };
  }

  /** Runs the safety phase, then the liveness phase; never throws. */
  run(): SimResult {
    try {
      this.#runFor(this.options.steps * tickMs, true);
      this.#liveness(this.options.livenessTicks ?? 400);
    } catch (err) {
      this.result.ok = false;
      if (err instanceof SafetyViolation) this.result.error = `safety: ${err.message}`;
      else if (err instanceof LivenessViolation) this.result.error = `liveness: ${err.message}`;
      else {this.result.error = `crash: ${
          err instanceof Error ? err.stack ?? err.message : String(err)
        }`;}
      this.#log(`FAILED ${this.result.error}`);
    }
    this.result.elections = this.checker.leadersElected;
    this.result.commits = this.checker.maxCommitted.index;
    this.result.messages = this.net.sent;
    return this.result;
  }

  /** Runs until `until` gives true or a reason to stop, or for `durationMs` (then false). */
  #runFor(
    durationMs: number,
    faults: boolean,
    until?: () => boolean | "stalled",
  ): boolean | "stalled" {
    const end = this.now + durationMs;
    for (; this.now < end; this.scheduler.now++) {
      if (faults && this.now % tickMs === 0) this.#injectFaults();
      for (let m = this.net.nextDue(this.now); m; m = this.net.nextDue(this.now)) {
        const node = this.nodes.get(m.to);
        if (!node?.raft) continue;
        this.#deliver(node, m);
      }
      for (const node of this.nodes.values()) {
        if (node.nextTickAt > this.now) continue;
        node.nextTickAt = this.now + node.tickEveryMs;
        if (!node.raft) continue;
        node.raft.tick();
        node.schedule();
      }
      // Every node's loop turns and the flushes that complete now, in a replayable order.
      this.scheduler.runDue();
      if (this.#fatal) throw this.#fatal;
      if (this.net.inFlight > 200_000) {
        throw new LivenessViolation(`message storm: ${this.net.inFlight} messages in flight`);
      }
      if (this.now % tickMs === 0) {
        if (faults) this.#clients();
        this.#observe();
        const stop = until?.();
        if (stop) return stop;
      }
    }
    return false;
  }

  #deliver(node: SimNode, m: Message): void {
    // Every frame passes the same validation as a real peer's before it reaches the core.
    const parsed = parseMessage(m);
    if (!parsed.ok) throw new Error(`the core sent an invalid message: ${parsed.error}`);
    node.raft!.step(parsed.value);
    node.schedule();
  }

  /** An entry applied by `node`: state machine safety, and a removal stops the node removed. */
  #applied(node: SimNode, e: Entry, after: SmState): void {
    this.checker.onApply(node.id, e, after);
    if (e.kind === "conf" && e.change?.type === "remove") {
      const gone = this.nodes.get(e.change.id);
      if (gone && !gone.removed) {
        gone.remove();
        this.#log(`${gone.id} removed and stopped`);
      }
    }
  }

  /** Writers of entries `node` applied were answered: those it proposed are acknowledged. */
  #answered(node: SimNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      const pending = this.#pendingWrites.get(e.index);
      if (!pending || pending.node !== node.id) continue;
      if (pending.term === e.term) {
        this.checker.maxAckedWrite = Math.max(this.checker.maxAckedWrite, e.index);
      }
      this.#pendingWrites.delete(e.index);
    }
  }

  #readied(node: SimNode, rd: Ready): void {
    for (const rs of rd.readStates) {
      const read = this.#pendingReads.get(rs.id);
      if (!read) continue;
      this.checker.onReadState(node.id, rs, read.ackedBefore);
      this.#pendingReads.delete(rs.id);
      this.result.reads++;
    }
    for (const id of rd.droppedReads) this.#pendingReads.delete(id);
    if (rd.softState) {
      const ss = rd.softState;
      this.#log(`${node.id} ${ss.role} term=${ss.term} leader=${ss.leader || "-"}`);
    }
  }

  #observe(): void {
    for (const node of this.nodes.values()) {
      if (node.raft) this.checker.onObserve(node.id, node.raft);
    }
    this.checker.checkDurable((index, term) => {
      for (const node of this.nodes.values()) {
        if (!node.removed && node.store.durableHolds(index, term)) return true;
      }
      return false;
    });
  }

  #liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null);
  }

  #leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.#liveNodes()) {
      if (n.raft!.role === "leader" && (!best || n.raft!.term > best.raft!.term)) best = n;
    }
    return best;
  }

  #injectFaults(): void {
    const rng = this.#faultRng;
    const p = this.profile;
    const members = [...this.nodes.values()].filter((n) => !n.removed);
    if (rng.chance(p.crashRate)) {
      const live = members.filter((n) => n.live);
      if (live.length > 0) {
        const victim = rng.pick(live);
        const powerLoss = rng.chance(p.powerLossRate);
        victim.crash(powerLoss);
        this.result.crashes++;
        this.#log(`${victim.id} crashed${powerLoss ? " (power loss)" : ""}`);
      }
    }
    for (const n of members) {
      if (!n.live && rng.chance(p.restartRate)) {
        const raft = n.start();
        this.checker.onRestart(n.id, n.store.sm, raft.hardState(), n.lostPower);
        this.#log(`${n.id} restarted`);
      }
    }
    if (!this.net.partitioned && rng.chance(p.partitionRate)) {
      const ids = members.map((n) => n.id);
      const kind = rng.int(3);
      if (kind === 0) {
        const lone = rng.pick(ids);
        this.net.isolate([lone], ids);
        this.#log(`partition: ${lone} isolated`);
      } else if (kind === 1) {
        const group = ids.filter(() => rng.chance(0.5));
        this.net.isolate(group, ids);
        this.#log(`partition: [${group}] | rest`);
      } else {
        const a = rng.pick(ids);
        const b = rng.pick(ids);
        if (a !== b) {
          this.net.cut(a, b);
          this.#log(`partition: ${a} -> ${b} cut (one way)`);
        }
      }
    } else if (this.net.partitioned && rng.chance(p.healRate)) {
      this.net.healAll();
      this.#log("partition healed");
    }
    // (only when drawn, so seeds without it go on as they did before it existed)
    if (p.snapshotRequestRate > 0 && rng.chance(p.snapshotRequestRate)) this.#requestSnapshot();
  }

  /** An operator's POST /admin/snapshot to a live node: an image, the log compacted up to it. */
  #requestSnapshot(): void {
    const live = this.#liveNodes();
    if (live.length === 0) return;
    const node = this.#faultRng.pick(live);
    const raft = node.raft!;
    node.loop!.requestSnapshot((error, index) => {
      if (error) return; // the node stopped (a crash or its removal)
      if (index > raft.applied) {
        throw new SafetyViolation(
          `${node.id}: snapshot ${index} answered past applied ${raft.applied}`,
        );
      }
      this.result.snapshotsTaken++;
      this.#log(`${node.id} took snapshot ${index} on request`);
    });
  }

  #clients(): void {
    const rng = this.#faultRng;
    const p = this.profile;
    // Clients reach any node that believes it leads, stale leaders in a minority included.
    const leaders = this.#liveNodes().filter((n) => n.raft!.role === "leader");
    if (leaders.length === 0) return;
    const leader = rng.pick(leaders);
    const raft = leader.raft!;
    if (rng.chance(p.writeRate)) {
      const count = rng.range(1, 3);
      const datas = Array.from({ length: count }, () => this.#command(++this.#writeSeq));
      const r = raft.propose(datas);
      if (r.ok) {
        for (let i = r.firstIndex; i <= r.lastIndex; i++) {
          this.#pendingWrites.set(i, { term: r.term, node: leader.id });
        }
      }
    }
    if (rng.chance(p.readRate)) {
      const id = `r${++this.#readSeq}`;
      this.#pendingReads.set(id, { node: leader.id, ackedBefore: this.checker.maxAckedWrite });
      raft.readIndex([id]);
    }
    if (rng.chance(p.confRate)) this.#changeMembership(leader);
    if (rng.chance(p.transferRate)) {
      const r = raft.transferLeadership();
      if (r.ok) {
        this.result.transfers++;
        this.#log(`${leader.id} transfers leadership to ${r.to}`);
      }
    }
    leader.schedule();
  }

  #changeMembership(leader: SimNode): void {
    const raft = leader.raft!;
    const rng = this.#faultRng;
    const members = raft.membership.members;
    const learner = members.find((m) =>
      !m.voter && (raft.progress.get(m.id)?.match ?? 0) >= raft.commit
    );
    let change: ConfChange | undefined;
    if (learner) {
      change = { type: "promote", id: learner.id, url: learner.url };
    } else if (members.length < this.options.nodes + 2 && rng.chance(0.5)) {
      const id = `n${this.#nextNodeNumber}`;
      change = { type: "addLearner", id, url: `sim://${id}` };
    } else if (voterIds(raft.membership).length > 3) {
      const victim = rng.pick(memberIds(raft.membership));
      change = { type: "remove", id: victim, url: "" };
    }
    if (!change) return;
    const r = raft.proposeConfChange(change);
    if (!r.ok) return;
    this.result.confChanges++;
    this.#log(`${leader.id} proposes ${change.type} ${change.id} at ${r.firstIndex}`);
    if (change.type === "addLearner") {
      this.#nextNodeNumber++;
      this.#addNode(change.id, emptyInit()).start();
    }
  }

  /**
   * Heals everything, then demands a leader and a commit applied by every live member. A member
   * still catching up (a long log over a slow disk) extends the time: stalling does not.
   */
  #liveness(boundTicks: number): void {
    this.net.healAll();
    const dropRate = this.options.deafLiveness ? 1 : 0;
    this.net.faults = { ...this.net.faults, dropRate, duplicateRate: 0, longDelayRate: 0 };
    for (const n of this.nodes.values()) {
      if (!n.removed && !n.live) {
        const raft = n.start();
        this.checker.onRestart(n.id, n.store.sm, raft.hardState(), n.lostPower);
      }
    }
    this.#log("liveness phase: network healed, all members up");
    let probe: { node: NodeId; index: number; term: number } | null = null;
    let appliedTotal = this.#appliedTotal();
    let progressAt = this.now;
    const done = this.#runFor(10 * boundTicks * tickMs, false, () => {
      const applied = this.#appliedTotal();
      if (applied > appliedTotal) [appliedTotal, progressAt] = [applied, this.now];
      if (this.now - progressAt > boundTicks * tickMs) return "stalled";
      const leader = this.#leader();
      if (!leader) return false;
      const raft = leader.raft!;
      if (!probe || probe.term !== raft.term || probe.node !== leader.id) {
        const r = raft.propose(["probe"]);
        if (r.ok) probe = { node: leader.id, index: r.lastIndex, term: r.term };
        leader.schedule();
        return false;
      }
      // (Compacted away counts as present: this leader's own entries of its term are never
      // overwritten, and only applied entries are compacted.)
      const probeTerm = raft.log.term(probe.index);
      if (probe.index > raft.log.snapshot.index && probeTerm !== probe.term) return false;
      for (const m of raft.membership.members) {
        const n = this.nodes.get(m.id);
        if (!n?.raft || n.store.sm.applied < probe.index) return false;
      }
      return isVoter(raft.membership, leader.id);
    });
    if (done !== true) {
      const states = [...this.nodes.values()].map((n) =>
        n.raft
          ? `${n.id}:${n.raft.role}@${n.raft.term} commit=${n.raft.commit} applied=${n.store.sm.applied} last=${n.raft.log.lastIndex()}`
          : `${n.id}:${n.removed ? "removed" : "down"}`
      );
      throw new LivenessViolation(
        `${
          done === "stalled"
            ? `no progress within ${boundTicks} ticks`
            : `not converged within ${10 * boundTicks} ticks`
        } after healing: ${states.join(", ")}`,
      );
    }
  }

  /** What every member has applied, summed: it grows while any member catches up. */
  #appliedTotal(): number {
    let total = 0;
    for (const n of this.nodes.values()) if (n.raft && !n.removed) total += n.store.sm.applied;
    return total;
  }
}

export function runSeed(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
