// Three raftq nodes (from the bundle) against three etcd members, same load generator, same machine.

import { TestCluster } from "../../tests/helpers/cluster.ts";
import { etcdPut, etcdTxn, startEtcd } from "./etcd.ts";
import { type LoadResult, postJson, runLoad } from "./load.ts";

export interface ClusterRow {
  workload: string;
  raftq: LoadResult;
  etcd: LoadResult;
  /** Multiplier from requests to jobs/keys (100 for batches). */
  itemsPerRequest: number;
  /** Every round, when the row was measured more than once. */
  rounds?: { raftq: LoadResult[]; etcd: LoadResult[] };
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };

/** Rounds of the headline row (64 connections to the leader), raftq and etcd alternating. */
export const headlineRounds = 5;
const headline = "enqueue / put, 64 conn, via leader";
/** Load before the measured rows of each session, at 64 connections to the leader. */
const warmUpMs = 1500;

/** The workloads in table order; a session measures all of them, or the headline alone. */
const workloads = [
  ...["leader", "follower"].flatMap((t) =>
    [1, 64, 256].map((c) => `enqueue / put, ${c} conn, via ${t}`)
  ),
  "batch of 100 / txn of 100 puts, 16 conn",
  "claim+ack pair / two sequential puts, 64 conn",
];

type Session = Map<string, LoadResult>;

/** Starts a raftq cluster, measures `names`, stops it. */
async function raftqSession(durationMs: number, names: string[]): Promise<Session> {
  const out: Session = new Map();
  const cluster = await TestCluster.start(3);
  try {
    const leader = await cluster.leader();
    const follower = cluster.live().find((n) => n !== leader)!;
    const jobs = Array.from({ length: 100 }, () => ({ payload }));
    // Warm-up, not measured (both systems get one): JIT, caches, connections.
    await runLoad(
      64,
      warmUpMs,
      async () => (await postJson(`${leader.url}/v1/queues/warmup/jobs`, { payload })) !== null,
    );
    for (const name of names) {
      const m = name.match(/^enqueue \/ put, (\d+) conn, via (\w+)$/);
      if (m) {
        const url = m[2] === "leader" ? leader.url : follower.url;
        out.set(
          name,
          await runLoad(
            Number(m[1]),
            durationMs,
            async () => (await postJson(`${url}/v1/queues/bench/jobs`, { payload })) !== null,
          ),
        );
      } else if (name.startsWith("batch")) {
        out.set(
          name,
          await runLoad(
            16,
            durationMs,
            async () => (await postJson(`${leader.url}/v1/queues/batch/batch`, { jobs })) !== null,
          ),
        );
      } else {
        // Claims from the jobs the batch row enqueued.
        out.set(
          name,
          await runLoad(64, durationMs, async (w) => {
            const r = await postJson(`${leader.url}/v1/queues/batch/claim`, {
              worker: `w${w}`,
            }) as { jobs: { id: string; lease: string }[] } | null;
            const job = r?.jobs[0];
            if (!job) return false;
            return (await postJson(`${leader.url}/v1/jobs/${job.id}/ack`, {
              lease: job.lease,
            })) !== null;
          }),
        );
      }
    }
  } finally {
    await cluster.stop();
  }
  return out;
}

/** Starts an etcd cluster, measures the analogue of `names`, stops it. */
async function etcdSession(durationMs: number, names: string[]): Promise<Session> {
  const out: Session = new Map();
  const etcd = await startEtcd();
  let n = 0;
  try {
    await runLoad(64, warmUpMs, () => etcdPut(etcd.leaderUrl, `w/${n++}`));
    for (const name of names) {
      const m = name.match(/^enqueue \/ put, (\d+) conn, via (\w+)$/);
      if (m) {
        const url = m[2] === "leader" ? etcd.leaderUrl : etcd.followerUrl;
        out.set(name, await runLoad(Number(m[1]), durationMs, () => etcdPut(url, `k/${n++}`)));
      } else if (name.startsWith("batch")) {
        out.set(
          name,
          await runLoad(16, durationMs, () => etcdTxn(etcd.leaderUrl, `b/${n++}`, 100)),
        );
      } else {
        out.set(
          name,
          await runLoad(64, durationMs, async () =>
            (await etcdPut(etcd.leaderUrl, `c/${n++}`)) &&
            (await etcdPut(etcd.leaderUrl, `a/${n++}`))),
        );
      }
    }
  } finally {
    await etcd.stop();
  }
  return out;
}

/** Each figure's median over the rounds (throughput, p50 and p99 each on its own). */
function median(results: LoadResult[]): LoadResult {
  const mid = (f: (r: LoadResult) => number) =>
    results.map(f).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  return {
    concurrency: results[0].concurrency,
    requests: mid((r) => r.requests),
    errors: results.reduce((n, r) => n + r.errors, 0),
    perSecond: mid((r) => r.perSecond),
    p50Ms: mid((r) => r.p50Ms),
    p99Ms: mid((r) => r.p99Ms),
  };
}

/**
 * One system runs at a time (the other is stopped, so neither pays for the other's idle
 * heartbeats). The first raftq and etcd sessions measure every row; then the headline row is
 * measured again in fresh sessions, raftq and etcd alternating, and each figure's median over
 * the rounds is reported, so a slow minute of a shared machine does not decide the comparison.
 */
export async function benchCluster(durationMs: number): Promise<ClusterRow[]> {
  const raftqRounds: Session[] = [];
  const etcdRounds: Session[] = [];
  for (let k = 0; k < headlineRounds; k++) {
    const names = k === 0 ? workloads : [headline];
    raftqRounds.push(await raftqSession(durationMs, names));
    etcdRounds.push(await etcdSession(durationMs, names));
  }
  return workloads.map((workload) => {
    const itemsPerRequest = workload.startsWith("batch") ? 100 : 1;
    if (workload !== headline) {
      return {
        workload,
        raftq: raftqRounds[0].get(workload)!,
        etcd: etcdRounds[0].get(workload)!,
        itemsPerRequest,
      };
    }
    const raftq = raftqRounds.map((s) => s.get(workload)!);
    const etcd = etcdRounds.map((s) => s.get(workload)!);
    return {
      workload,
      raftq: median(raftq),
      etcd: median(etcd),
      itemsPerRequest,
      rounds: { raftq, etcd },
    };
  });
}
