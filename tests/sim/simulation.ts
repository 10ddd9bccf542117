// The deterministic cluster simulator: seeded faults around real Raft cores, checked every step.

import {
  bootstrapInit,
  type ConfChange,
  emptyInit,
  type Entry,
  isVoter,
  makeRaftConfig,
  memberIds,
  type Message,
  type NodeId,
  parseMessage,
  Raft,
  type RaftInit,
  type Ready,
  voterIds,
} from "../../src/raft/mod.ts";
import { Checker, SafetyViolation } from "./checker.ts";
import { Network, type NetworkFaults } from "./network.ts";
import { Prng } from "./prng.ts";
import { MemoryDisk, type SimDisk } from "./disk.ts";
import { applyEntry, encodeSm } from "./state_machine.ts";

export interface SimOptions {
  seed: number;
  /** Founding voters (3, 5 or 7 in the standard runs). */
  nodes: number;
  /** Ticks of the safety phase, with faults on. */
  steps: number;
  /** Ticks the healed cluster gets to elect a leader and commit everywhere. */
  livenessTicks?: number;
  trace?: (line: string) => void;
  /** Where nodes keep their durable state; in memory unless given. */
  makeDisk?: (id: NodeId, init: RaftInit) => SimDisk;
}

export interface SimResult {
  seed: number;
  nodes: number;
  ok: boolean;
  error?: string;
  elections: number;
  commits: number;
  reads: number;
  crashes: number;
  snapshotsInstalled: number;
  confChanges: number;
  transfers: number;
  messages: number;
}

export class LivenessViolation extends Error {}

const tickMs = 10;
const electionTicks = 10;

class SimNode {
  raft: Raft | null = null;
  removed = false;
  nextTickAt: number;

  constructor(
    readonly id: NodeId,
    readonly tickEveryMs: number,
    readonly rng: Prng,
    readonly disk: SimDisk,
    startAt: number,
  ) {
    this.nextTickAt = startAt + tickEveryMs;
  }

  get live(): boolean {
    return this.raft !== null;
  }

  start(chunkBytes: number): Raft {
    const cfg = makeRaftConfig({
      id: this.id,
      electionTicks,
      heartbeatTicks: 1,
      randomInt: (n) => this.rng.int(n),
      maxInflightAppends: 4,
      maxAppendBytes: 400,
      snapshotChunkBytes: chunkBytes,
      snapshotResendTicks: 3,
      snapshotReader: (index, offset, maxBytes) =>
        this.disk.readSnapshotChunk(index, offset, maxBytes),
    });
    this.raft = new Raft(cfg, this.disk.load());
    return this.raft;
  }

  termOnDisk(index: number): number | undefined {
    return this.disk.termOnDisk(index);
  }
}

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
  /** Probability that inputs reach a core between its ready() and advance(). */
  interleaveRate: number;
}

function drawProfile(rng: Prng): FaultProfile {
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
    chunkBytes: rng.pick([8, 32, 4096]),
    interleaveRate: rng.pick([0, 0.2, 0.6]),
  };
}

export class Simulation {
  readonly rng: Prng;
  readonly net: Network;
  readonly checker = new Checker();
  readonly nodes = new Map<NodeId, SimNode>();
  readonly profile: FaultProfile;
  now = 0;
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
    this.profile = drawProfile(this.rng.fork());
    this.net = new Network(this.rng.fork(), { ...this.profile.net });
    this.#trace = options.trace;
    this.result = {
      seed: options.seed,
      nodes: options.nodes,
      ok: true,
      elections: 0,
      commits: 0,
      reads: 0,
      crashes: 0,
      snapshotsInstalled: 0,
      confChanges: 0,
      transfers: 0,
      messages: 0,
    };
    const founders = Array.from({ length: options.nodes }, (_, k) => ({
      id: `n${k + 1}`,
      url: `sim://n${k + 1}`,
    }));
    this.#nextNodeNumber = options.nodes + 1;
    for (const f of founders) {
      const init = bootstrapInit(founders);
      this.#addNode(f.id, init).start(this.profile.chunkBytes);
    }
    this.#log(`profile ${JSON.stringify(this.profile)}`);
  }

  #log(line: string): void {
    this.#trace?.(`t=${this.now} ${line}`);
  }

  #addNode(id: NodeId, init: RaftInit): SimNode {
    const rng = this.rng.fork();
    const drift = rng.range(-2, 2);
    const disk = this.options.makeDisk?.(id, init) ?? new MemoryDisk(init);
    const node = new SimNode(id, tickMs + drift, rng, disk, this.now + rng.int(tickMs));
    this.nodes.set(id, node);
    return node;
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

  #runFor(durationMs: number, faults: boolean, until?: () => boolean): boolean {
    const end = this.now + durationMs;
    for (; this.now < end; this.now++) {
      if (faults && this.now % tickMs === 0) this.#injectFaults();
      const touched = new Set<SimNode>();
      for (let m = this.net.nextDue(this.now); m; m = this.net.nextDue(this.now)) {
        const node = this.nodes.get(m.to);
        if (!node?.raft) continue;
        this.#deliver(node, m);
        touched.add(node);
      }
      for (const node of this.nodes.values()) {
        if (node.nextTickAt > this.now) continue;
        node.nextTickAt = this.now + node.tickEveryMs;
        if (!node.raft) continue;
        node.raft.tick();
        touched.add(node);
      }
      for (const node of touched) this.#processReady(node);
      if (this.net.inFlight > 200_000) {
        throw new LivenessViolation(`message storm: ${this.net.inFlight} messages in flight`);
      }
      if (this.now % tickMs === 0) {
        if (faults) this.#clients();
        this.#observe();
        if (until?.()) return true;
      }
    }
    return false;
  }

  #deliver(node: SimNode, m: Message): void {
    // Every frame passes the same validation as a real peer's before it reaches the core.
    const parsed = parseMessage(m);
    if (!parsed.ok) throw new Error(`the core sent an invalid message: ${parsed.error}`);
    node.raft!.step(parsed.value);
  }

  #processReady(node: SimNode): void {
    const raft = node.raft;
    if (!raft) return;
    for (let rounds = 0; raft.hasReady(); rounds++) {
      if (rounds > 1000) {
        throw new Error(
          `${node.id}: Ready never drains (commit=${raft.commit} applied=${raft.applied} last=${raft.log.lastIndex()} snap=${raft.log.snapshot.index})`,
        );
      }
      const rd = raft.ready();
      for (const m of rd.messages) this.net.send(m, this.now);
      this.#persist(node, rd);
      this.#applyAll(node, rd.committedEntries);
      // The real node awaits its flush here: other inputs reach the core meanwhile, and it sends
      // the appends and applies the commits they cause before the Ready is done.
      if (node.removed) return; // it applied its own removal: it stops here
      if (this.#faultRng.chance(this.profile.interleaveRate)) this.#interleave(node, raft);
      if (node.removed) return; // ...or the interleaved inputs committed it
      for (const m of rd.persistedMessages) this.net.send(m, this.now);
      for (const rs of rd.readStates) {
        const read = this.#pendingReads.get(rs.id);
        if (!read) continue;
        this.checker.onReadState(node.id, rs, read.ackedBefore);
        this.#pendingReads.delete(rs.id);
        this.result.reads++;
      }
      for (const id of rd.droppedReads) this.#pendingReads.delete(id);
      if (rd.softState) {
        this.#log(
          `${node.id} ${rd.softState.role} term=${rd.softState.term} leader=${
            rd.softState.leader || "-"
          }`,
        );
      }
      raft.advance(rd);
      if (node.removed) return;
    }
    this.#maybeCompact(node);
  }

  /**
   * Steps inputs into a core between its ready() and advance() (a message, a tick, a proposal),
   * then, as the node does while it flushes, sends the appends they caused and applies the
   * entries they committed.
   */
  #interleave(node: SimNode, raft: Raft): void {
    const rng = this.#faultRng;
    for (let k = rng.int(3); k >= 0; k--) {
      const m = this.net.takeDueFor(node.id, this.now);
      if (m) this.#deliver(node, m);
    }
    if (rng.chance(0.3)) raft.tick();
    if (raft.role === "leader" && rng.chance(0.5)) {
      const r = raft.propose([`w${++this.#writeSeq}`]);
      if (r.ok) this.#pendingWrites.set(r.firstIndex, { term: r.term, node: node.id });
    }
    if (rng.chance(0.8)) {
      for (const m of raft.takeMessages()) this.net.send(m, this.now);
      this.#applyAll(node, raft.takeCommittedEntries());
    }
  }

  #persist(node: SimNode, rd: Ready): void {
    const installed = node.disk.persist(rd);
    if (installed && rd.snapshot) {
      this.checker.onSnapshotInstalled(node.id, rd.snapshot, installed);
      this.result.snapshotsInstalled++;
      this.#log(`${node.id} installed snapshot ${rd.snapshot.index}`);
    }
    if (rd.entries.length > 0) {
      this.checker.onPersistEntries(node.id, rd.entries, (i) => node.termOnDisk(i));
    }
    if (rd.hardState) this.checker.onHardState(node.id, rd.hardState);
  }

  /** Applies committed entries in order and saves the state machine (one write). */
  #applyAll(node: SimNode, entries: readonly Entry[]): void {
    for (const e of entries) this.#apply(node, e);
    if (entries.length > 0) node.disk.saveSm();
  }

  #apply(node: SimNode, e: Entry): void {
    node.disk.sm = applyEntry(node.disk.sm, e);
    this.checker.onApply(node.id, e, node.disk.sm);
    const pending = this.#pendingWrites.get(e.index);
    if (pending && pending.node === node.id) {
      if (pending.term === e.term) {
        this.checker.maxAckedWrite = Math.max(this.checker.maxAckedWrite, e.index);
      }
      this.#pendingWrites.delete(e.index);
    }
    if (e.kind === "conf" && e.change?.type === "remove") {
      const gone = this.nodes.get(e.change.id);
      if (gone && !gone.removed) {
        // A removed node stops serving, as the product does.
        gone.removed = true;
        gone.raft = null;
        this.#log(`${gone.id} removed and stopped`);
      }
    }
  }

  #maybeCompact(node: SimNode): void {
    const raft = node.raft;
    if (!raft) return;
    const disk = node.disk;
    if (disk.sm.applied - disk.snapshotIndex() < this.profile.compactEvery) return;
    const meta = raft.compact(disk.sm.applied);
    disk.saveSnapshot(meta, encodeSm(disk.sm));
  }

  #observe(): void {
    for (const node of this.nodes.values()) {
      if (node.raft) this.checker.onObserve(node.id, node.raft);
    }
    this.checker.checkDurable((index, term) => {
      for (const node of this.nodes.values()) {
        if (node.removed) continue;
        if (node.disk.snapshotIndex() >= index || node.termOnDisk(index) === term) return true;
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
        victim.raft = null;
        this.result.crashes++;
        this.#log(`${victim.id} crashed`);
      }
    }
    for (const n of members) {
      if (!n.live && rng.chance(p.restartRate)) {
        n.start(p.chunkBytes);
        this.checker.onRestart(n.id, n.disk.sm);
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
      const datas = Array.from({ length: count }, () => `w${++this.#writeSeq}`);
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
    this.#processReady(leader);
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
      this.#addNode(change.id, emptyInit()).start(this.profile.chunkBytes);
    }
  }

  /** Heals everything, then demands a leader and a commit applied by every live member in time. */
  #liveness(boundTicks: number): void {
    this.net.healAll();
    this.net.faults = { ...this.net.faults, dropRate: 0, duplicateRate: 0, longDelayRate: 0 };
    for (const n of this.nodes.values()) {
      if (!n.removed && !n.live) {
        n.start(this.profile.chunkBytes);
        this.checker.onRestart(n.id, n.disk.sm);
      }
    }
    this.#log("liveness phase: network healed, all members up");
    let probe: { node: NodeId; index: number; term: number } | null = null;
    const done = this.#runFor(boundTicks * tickMs, false, () => {
      const leader = this.#leader();
      if (!leader) return false;
      const raft = leader.raft!;
      if (!probe || probe.term !== raft.term || probe.node !== leader.id) {
        const r = raft.propose(["probe"]);
        if (r.ok) probe = { node: leader.id, index: r.lastIndex, term: r.term };
        this.#processReady(leader);
        return false;
      }
      // (Compacted away counts as present: this leader's own entries of its term are never
      // overwritten, and only applied entries are compacted.)
      const probeTerm = raft.log.term(probe.index);
      if (probe.index > raft.log.snapshot.index && probeTerm !== probe.term) return false;
      for (const m of raft.membership.members) {
        const n = this.nodes.get(m.id);
        if (!n?.raft || n.disk.sm.applied < probe.index) return false;
      }
      return isVoter(raft.membership, leader.id);
    });
    if (!done) {
      const states = [...this.nodes.values()].map((n) =>
        n.raft
          ? `${n.id}:${n.raft.role}@${n.raft.term} commit=${n.raft.commit} applied=${n.disk.sm.applied} last=${n.raft.log.lastIndex()}`
          : `${n.id}:${n.removed ? "removed" : "down"}`
      );
      throw new LivenessViolation(
        `no progress within ${boundTicks} ticks after healing: ${states.join(", ")}`,
      );
    }
  }
}

export function runSeed(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
