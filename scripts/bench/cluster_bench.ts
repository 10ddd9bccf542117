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
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };

export async function benchCluster(durationMs: number): Promise<ClusterRow[]> {
  const rows: ClusterRow[] = [];
  const raftqResults = new Map<string, LoadResult>();
  const cluster = await TestCluster.start(3);
  try {
    const leader = await cluster.leader();
    const follower = cluster.live().find((n) => n !== leader)!;
    for (const [target, node] of [["leader", leader], ["follower", follower]] as const) {
      for (const c of [1, 64, 256]) {
        raftqResults.set(
          `enqueue ${c} ${target}`,
          await runLoad(
            c,
            durationMs,
            async () => (await postJson(`${node.url}/v1/queues/bench/jobs`, { payload })) !== null,
          ),
        );
      }
    }
    const jobs = Array.from({ length: 100 }, () => ({ payload }));
    raftqResults.set(
      "batch",
      await runLoad(
        16,
        durationMs,
        async () => (await postJson(`${leader.url}/v1/queues/batch/batch`, { jobs })) !== null,
      ),
    );
    raftqResults.set(
      "pair",
      await runLoad(64, durationMs, async (w) => {
        const r = await postJson(`${leader.url}/v1/queues/batch/claim`, { worker: `w${w}` }) as
          | { jobs: { id: string; lease: string }[] }
          | null;
        const job = r?.jobs[0];
        if (!job) return false;
        return (await postJson(`${leader.url}/v1/jobs/${job.id}/ack`, { lease: job.lease })) !==
          null;
      }),
    );
  } finally {
    await cluster.stop();
  }
  const etcd = await startEtcd();
  try {
    let n = 0;
    for (
      const [target, url] of [["leader", etcd.leaderUrl], ["follower", etcd.followerUrl]] as const
    ) {
      for (const c of [1, 64, 256]) {
        const e = await runLoad(c, durationMs, () => etcdPut(url, `k/${n++}`));
        rows.push({
          workload: `enqueue / put, ${c} conn, via ${target}`,
          raftq: raftqResults.get(`enqueue ${c} ${target}`)!,
          etcd: e,
          itemsPerRequest: 1,
        });
      }
    }
    rows.push({
      workload: "batch of 100 / txn of 100 puts, 16 conn",
      raftq: raftqResults.get("batch")!,
      etcd: await runLoad(16, durationMs, () => etcdTxn(etcd.leaderUrl, `b/${n++}`, 100)),
      itemsPerRequest: 100,
    });
    rows.push({
      workload: "claim+ack pair / two sequential puts, 64 conn",
      raftq: raftqResults.get("pair")!,
      etcd: await runLoad(
        64,
        durationMs,
        async () =>
          (await etcdPut(etcd.leaderUrl, `c/${n++}`)) &&
          (await etcdPut(etcd.leaderUrl, `a/${n++}`)),
      ),
      itemsPerRequest: 1,
    });
  } finally {
    await etcd.stop();
  }
  return rows;
}
