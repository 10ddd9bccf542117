// One Worker (the client library) against a hand-written claim/ack loop, on a 3-node cluster.

import { Client, Worker } from "../../src/client/mod.ts";
import { TestCluster } from "../../tests/helpers/cluster.ts";
import { postJson } from "./load.ts";

export interface WorkerRow {
  concurrency: number;
  jobs: number;
  /** Jobs per second of each round, alternating: the Worker's and the loop's. */
  worker: number[];
  loop: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const workerMedian = median;

async function fill(url: string, queue: string, jobs: number): Promise<void> {
  for (let k = 0; k < jobs; k += 1000) {
    const n = Math.min(1000, jobs - k);
    const batch = Array.from({ length: n }, (_, i) => ({ payload: { n: k + i } }));
    if (!(await postJson(`${url}/v1/queues/${queue}/batch`, { jobs: batch }))) {
      throw new Error("the fill was refused");
    }
  }
}

/** Drains `jobs` with a Worker and a no-op handler; jobs per second. */
async function drainWithWorker(urls: string[], queue: string, jobs: number, concurrency: number) {
  const client = new Client({ urls });
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((resolve) => (finished = resolve));
  const worker = new Worker(client, queue, () => null, { concurrency, waitMs: 1_000 });
  worker.on("completed", () => ++done === jobs && finished());
  const started = performance.now();
  worker.start();
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  return jobs / seconds;
}

/** The loop a user would write: `concurrency` loops of claim one, ack it, over fetch. */
async function drainWithLoop(url: string, queue: string, jobs: number, concurrency: number) {
  let done = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    while (done < jobs) {
      const r = await postJson(`${url}/v1/queues/${queue}/claim`, {
        worker: `loop-${w}`,
        max: 1,
        waitMs: 1_000,
      }) as { jobs: { id: string; lease: string }[] } | null;
      for (const job of r?.jobs ?? []) {
        if (await postJson(`${url}/v1/jobs/${job.id}/ack`, { lease: job.lease, result: null })) {
          done++;
        }
      }
    }
  }));
  return jobs / ((performance.now() - started) / 1000);
}

/** Rounds per concurrency, the Worker and the loop alternating on fresh queues. */
export async function benchWorker(quick: boolean): Promise<WorkerRow[]> {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const urls = [leader.url, ...c.nodes.filter((n) => n !== leader).map((n) => n.url)];
    const rows: WorkerRow[] = [];
    const rounds = quick ? 1 : 3;
    for (const concurrency of [1, 16, 64]) {
      const jobs = (concurrency === 1 ? 1_000 : 5_000) / (quick ? 5 : 1);
      const row: WorkerRow = { concurrency, jobs, worker: [], loop: [] };
      for (let r = 0; r < rounds; r++) {
        const q = `w${concurrency}-${r}`;
        await fill(leader.url, `${q}a`, jobs);
        row.worker.push(await drainWithWorker(urls, `${q}a`, jobs, concurrency));
        await fill(leader.url, `${q}b`, jobs);
        row.loop.push(await drainWithLoop(leader.url, `${q}b`, jobs, concurrency));
      }
      rows.push(row);
    }
    return rows;
  } finally {
    await c.stop();
  }
}
