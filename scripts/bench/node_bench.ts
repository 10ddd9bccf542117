// Single-node benchmark over real HTTP: durable enqueues, batches, and claim+ack pairs.

import { type NodeProcess, startReadyNode } from "../../tests/helpers/node_process.ts";
import { type LoadResult, postJson, runLoad } from "./load.ts";

export interface NodeBenchResult {
  enqueue: LoadResult[];
  batch: LoadResult & { jobsPerSecond: number };
  claimAck: LoadResult;
  /** Claim + ack pairs from a queue whose jobs are spread over this many groups. */
  byGroups: (LoadResult & { groups: number })[];
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(120) };

/** 16 workers claiming one job and acking it, over and over. */
function claimAckLoad(u: string, queue: string, durationMs: number): Promise<LoadResult> {
  return runLoad(16, durationMs, async (w) => {
    const r = await postJson(`${u}/v1/queues/${queue}/claim`, { worker: `w${w}` }) as
      | { jobs: { id: string; lease: string }[] }
      | null;
    const job = r?.jobs[0];
    if (!job) return false;
    return (await postJson(`${u}/v1/jobs/${job.id}/ack`, { lease: job.lease })) !== null;
  });
}

/** `jobs` jobs spread round-robin over `groups` groups, in batches of 1,000. */
async function fillGroups(u: string, queue: string, groups: number, jobs: number) {
  for (let at = 0; at < jobs; at += 1000) {
    const batch = Array.from({ length: Math.min(1000, jobs - at) }, (_, k) => ({
      payload,
      group: `g${(at + k) % groups}`,
    }));
    if ((await postJson(`${u}/v1/queues/${queue}/batch`, { jobs: batch })) === null) {
      throw new Error(`filling ${queue} failed`);
    }
  }
}

export async function benchSingleNode(durationMs: number): Promise<NodeBenchResult> {
  const node: NodeProcess = await startReadyNode();
  try {
    const u = node.url;
    const enqueue: LoadResult[] = [];
    for (const c of [1, 16, 64]) {
      enqueue.push(
        await runLoad(
          c,
          durationMs,
          async () => (await postJson(`${u}/v1/queues/bench/jobs`, { payload })) !== null,
        ),
      );
    }
    const jobs = Array.from({ length: 100 }, () => ({ payload }));
    const batchLoad = await runLoad(
      16,
      durationMs,
      async () => (await postJson(`${u}/v1/queues/batch/batch`, { jobs })) !== null,
    );
    // Claim + ack pairs from the jobs enqueued above.
    const claimAck = await claimAckLoad(u, "batch", durationMs);
    const byGroups = [];
    for (const groups of [1, 100, 100_000]) {
      const queue = `groups-${groups}`;
      await fillGroups(u, queue, groups, Math.max(groups, 100_000));
      byGroups.push({ ...await claimAckLoad(u, queue, durationMs), groups });
    }
    return {
      enqueue,
      batch: { ...batchLoad, jobsPerSecond: batchLoad.perSecond * 100 },
      claimAck,
      byGroups,
    };
  } finally {
    await node.kill("SIGTERM");
    await Deno.remove(node.dataDir, { recursive: true });
  }
}
