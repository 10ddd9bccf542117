// Single-node benchmark over real HTTP: durable enqueues, batches, and claim+ack pairs.

import { type NodeProcess, startReadyNode } from "../../tests/helpers/node_process.ts";
import { type LoadResult, postJson, runLoad } from "./load.ts";

export interface NodeBenchResult {
  enqueue: LoadResult[];
  batch: LoadResult & { jobsPerSecond: number };
  claimAck: LoadResult;
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(120) };

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
    const claimAck = await runLoad(16, durationMs, async (w) => {
      const r = await postJson(`${u}/v1/queues/batch/claim`, { worker: `w${w}` }) as
        | { jobs: { id: string; lease: string }[] }
        | null;
      const job = r?.jobs[0];
      if (!job) return false;
      return (await postJson(`${u}/v1/jobs/${job.id}/ack`, { lease: job.lease })) !== null;
    });
    return {
      enqueue,
      batch: { ...batchLoad, jobsPerSecond: batchLoad.perSecond * 100 },
      claimAck,
    };
  } finally {
    await node.kill("SIGTERM");
    await Deno.remove(node.dataDir, { recursive: true });
  }
}
