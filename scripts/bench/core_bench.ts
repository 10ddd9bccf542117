// Benchmarks of the Raft core alone, in memory: commit throughput and election time after a crash.

import {
  bootstrapInit,
  makeRaftConfig,
  type Message,
  type NodeId,
  Raft,
} from "../../src/raft/mod.ts";
import { Prng } from "../../tests/sim/prng.ts";

export interface CoreBenchResult {
  batchSize: number;
  entriesPerSecond: number;
  proposalsPerSecond: number;
}

function cluster(ids: NodeId[], rng: Prng): Map<NodeId, Raft> {
  const nodes = new Map<NodeId, Raft>();
  for (const id of ids) {
    const init = bootstrapInit(ids.map((x) => ({ id: x, url: "" })));
    nodes.set(
      id,
      new Raft(
        makeRaftConfig({ id, electionTicks: 10, randomInt: (n) => rng.int(n) }),
        init,
      ),
    );
  }
  return nodes;
}

/** Drains Readies (as a caller with an instant disk would) and returns the messages to send. */
function pump(nodes: Map<NodeId, Raft>, onApply?: (id: NodeId, count: number) => void): Message[] {
  const out: Message[] = [];
  for (const [id, r] of nodes) {
    while (r.hasReady()) {
      const rd = r.ready();
      out.push(...rd.messages, ...rd.persistedMessages);
      if (onApply && rd.committedEntries.length > 0) onApply(id, rd.committedEntries.length);
      r.advance(rd);
    }
  }
  return out;
}

/** Committed entries per second in a 3-node cluster with instant delivery, for one batch size. */
export function benchCommitThroughput(batchSize: number, durationMs: number): CoreBenchResult {
  const rng = new Prng(1);
  const nodes = cluster(["a", "b", "c"], rng);
  nodes.get("a")!.campaign();
  let queue = pump(nodes);
  while (queue.length > 0) {
    for (const m of queue) nodes.get(m.to)!.step(m);
    queue = pump(nodes);
  }
  const leader = nodes.get("a")!;
  if (leader.role !== "leader") throw new Error("no leader for the benchmark");
  const payload = "x".repeat(200);
  const batch = Array.from({ length: batchSize }, () => payload);
  let applied = 0;
  let proposals = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    for (let k = 0; k < 16; k++) {
      leader.propose(batch);
      proposals++;
    }
    queue = pump(nodes, (id, n) => {
      if (id === "a") applied += n;
    });
    while (queue.length > 0) {
      for (const m of queue) nodes.get(m.to)!.step(m);
      queue = pump(nodes, (id, n) => {
        if (id === "a") applied += n;
      });
    }
    now = performance.now();
  }
  const seconds = (now - start) / 1000;
  return {
    batchSize,
    entriesPerSecond: applied / seconds,
    proposalsPerSecond: proposals / seconds,
  };
}

export interface ElectionBenchResult {
  trials: number;
  medianTicks: number;
  p99Ticks: number;
  maxTicks: number;
}

/**
 * Ticks from a leader's crash until a new leader has committed its no-op, over many seeds:
 * 3 voters, 1-5 ms one-way delays, a tick every 10 ms, electionTicks 10, pre-vote and
 * check-quorum on (the defaults).
 */
export function benchElectionTime(trials: number): ElectionBenchResult {
  const samples: number[] = [];
  const tickMs = 10;
  for (let seed = 1; seed <= trials; seed++) {
    const rng = new Prng(seed);
    const nodes = cluster(["a", "b", "c"], rng);
    const inflight: { at: number; m: Message }[] = [];
    const down = new Set<NodeId>();
    let crashAt = -1;
    let result = -1;
    for (let t = 0; t < 20_000 && result < 0; t++) {
      for (let k = inflight.length - 1; k >= 0; k--) {
        if (inflight[k].at > t) continue;
        const { m } = inflight[k];
        inflight.splice(k, 1);
        if (!down.has(m.to)) nodes.get(m.to)!.step(m);
      }
      if (t % tickMs === 0) {
        for (const [id, r] of nodes) if (!down.has(id)) r.tick();
      }
      const live = new Map([...nodes].filter(([id]) => !down.has(id)));
      for (const m of pump(live)) inflight.push({ at: t + 1 + rng.int(5), m });
      const leader = [...live].find(([, r]) => r.role === "leader" && r.committedInTerm());
      if (crashAt < 0 && leader && t > 1000) {
        down.add(leader[0]);
        crashAt = t;
      } else if (crashAt >= 0 && leader) {
        result = (t - crashAt) / tickMs;
      }
    }
    if (result >= 0) samples.push(result);
  }
  samples.sort((x, y) => x - y);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return {
    trials: samples.length,
    medianTicks: at(0.5),
    p99Ticks: at(0.99),
    maxTicks: samples[samples.length - 1],
  };
}
