// A hand-driven in-memory cluster for unit tests: deliver messages one by one or until quiet.

import {
  bootstrapInit,
  type Entry,
  type HardState,
  makeRaftConfig,
  type Message,
  type NodeId,
  Raft,
  type RaftConfig,
  type RaftInit,
  type Ready,
  type SnapshotMeta,
} from "../../src/raft/mod.ts";

export interface TestNode {
  raft: Raft;
  /** What this node made durable, as a restart would find it. */
  hardState: HardState;
  entries: Entry[];
  snapshot: SnapshotMeta;
  snapshotData: Uint8Array;
  applied: Entry[];
  readies: Ready[];
}

/** A deterministic "random" source: always the same offset, so timeouts are predictable. */
export const fixedRandom = (offset: number) => (n: number) => Math.min(offset, n - 1);

export class TestCluster {
  nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered. */
  queue: Message[] = [];
  /** Directed links that drop messages: "a>b". */
  cut = new Set<string>();

  constructor(
    ids: NodeId[],
    options: Partial<RaftConfig> & { randomOffsets?: Record<NodeId, number> } = {},
  ) {
    const init = () => bootstrapInit(ids.map((id) => ({ id, url: `test://${id}` })));
    for (const id of ids) this.add(id, init(), options);
  }

  add(
    id: NodeId,
    init: RaftInit,
    options: Partial<RaftConfig> & { randomOffsets?: Record<NodeId, number> } = {},
  ): TestNode {
    // Distinct default timeouts per node (a: +0, b: +3, c: +6 ...), so ties do not repeat forever.
    const offset = options.randomOffsets?.[id] ?? (this.nodes.size * 3) % 10;
    const node: TestNode = {
      raft: undefined as unknown as Raft,
      hardState: init.hardState,
      entries: [...init.entries],
      snapshot: init.snapshot,
      snapshotData: new Uint8Array(),
      applied: [],
      readies: [],
    };
    const cfg = makeRaftConfig({
      electionTicks: 10,
      heartbeatTicks: 1,
      randomInt: fixedRandom(offset),
      snapshotReader: (index, off, max) =>
        node.snapshot.index === index
          ? {
            data: node.snapshotData.subarray(off, off + max),
            done: off + max >= node.snapshotData.length,
          }
          : null,
      ...options,
      id,
    });
    node.raft = new Raft(cfg, init);
    this.nodes.set(id, node);
    return node;
  }

  get(id: NodeId): Raft {
    return this.nodes.get(id)!.raft;
  }

  /** Processes every node's Ready (or only `ids`'): persist, queue messages, apply. */
  flush(ids?: readonly NodeId[]): Ready[] {
    const out: Ready[] = [];
    for (const [id, node] of this.nodes) {
      if (ids && !ids.includes(id)) continue;
      while (node.raft.hasReady()) {
        const rd = node.raft.ready();
        if (rd.snapshot) {
          node.snapshot = rd.snapshot;
          node.entries = [];
        }
        if (rd.entries.length > 0) {
          const first = rd.entries[0].index;
          node.entries = node.entries.filter((e) => e.index < first).concat(rd.entries);
        }
        if (rd.hardState) node.hardState = rd.hardState;
        this.queue.push(...rd.messages, ...rd.persistedMessages);
        node.applied.push(...rd.committedEntries);
        node.readies.push(rd);
        node.raft.advance(rd);
        out.push(rd);
      }
    }
    return out;
  }

  /** Delivers queued messages (and their consequences) until nothing is left. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.flush();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error("cluster did not stabilize");
  }

  deliver(m: Message): void {
    if (this.cut.has(`${m.from}>${m.to}`)) return;
    this.nodes.get(m.to)?.raft.step(m);
  }

  /** Takes the queued messages matching `pred` out of the queue. */
  take(pred: (m: Message) => boolean): Message[] {
    const taken = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return taken;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.get(id).tick();
  }

  /** Ticks `id` until its election fires, then lets the cluster settle. */
  elect(id: NodeId): void {
    this.get(id).campaign();
    this.stabilize();
  }

  /** Ticks `ids` together (delivering everything) until one of them leads; returns it. */
  tickUntilLeader(ids: NodeId[], maxTicks = 200): NodeId {
    for (let t = 0; t < maxTicks; t++) {
      for (const id of ids) this.tick(id);
      this.stabilize();
      const leader = ids.find((id) => this.get(id).role === "leader");
      if (leader) return leader;
    }
    throw new Error(`no leader among ${ids} after ${maxTicks} ticks`);
  }

  /** Elects `id` delivering only votes: it leads, but its no-op has not reached anyone. */
  electWithoutAppends(id: NodeId): void {
    this.get(id).campaign();
    for (let i = 0; i < 6; i++) {
      this.flush();
      for (const m of this.take(() => true)) {
        if (m.type === "vote" || m.type === "voteResp") this.deliver(m);
      }
    }
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** A restart: a fresh core from what the node made durable. */
  restart(id: NodeId, options: Partial<RaftConfig> = {}): Raft {
    const node = this.nodes.get(id)!;
    const init: RaftInit = {
      hardState: node.hardState,
      snapshot: node.snapshot,
      entries: node.entries,
      appliedIndex: node.applied.length > 0 ? node.applied[node.applied.length - 1].index : 0,
    };
    this.add(id, init, options);
    const fresh = this.nodes.get(id)!;
    fresh.applied = node.applied;
    return fresh.raft;
  }
}

export function appendMsg(
  from: NodeId,
  to: NodeId,
  term: number,
  prevIndex: number,
  prevTerm: number,
  entries: Array<[number, number]>,
  commit = 0,
): Message {
  return {
    type: "append",
    term,
    from,
    to,
    prevIndex,
    prevTerm,
    entries: entries.map(([index, t]) => ({ index, term: t, kind: "normal", data: `e${index}` })),
    commit,
  };
}

export function voteMsg(
  from: NodeId,
  to: NodeId,
  term: number,
  lastLogIndex: number,
  lastLogTerm: number,
  preVote = false,
): Message {
  return { type: "vote", term, from, to, preVote, lastLogIndex, lastLogTerm, transfer: false };
}

/** A single core, given a log of (index, term) pairs after the bootstrap entries of a, b, c. */
export function lone(id: NodeId, term: number, terms: number[] = [], vote = ""): Raft {
  const init = bootstrapInit(["a", "b", "c"].map((x) => ({ id: x, url: "" })));
  const entries = [...init.entries];
  for (const t of terms) {
    entries.push({ index: entries.length + 1, term: t, kind: "normal", data: "" });
  }
  return new Raft(
    makeRaftConfig({ id, electionTicks: 10, heartbeatTicks: 1, randomInt: fixedRandom(0) }),
    { ...init, entries, hardState: { term, vote, commit: 3 } },
  );
}

/** Drains a lone core's Ready and returns it. */
export function drain(raft: Raft): Ready {
  const rd = raft.ready();
  raft.advance(rd);
  return rd;
}
