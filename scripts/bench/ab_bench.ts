// Two builds of raftq, back to back: three nodes from each bundle in turn, rounds alternating,
// enqueues (or claim+ack pairs) to the leader or through a follower at 1, 64 and 256 connections,
// with the servers' CPU per request.

import { TestCluster } from "../../tests/helpers/cluster.ts";
import { postJson, runLoad } from "./load.ts";
import { withCpu } from "./proc_cpu.ts";

export interface AbRow {
  bundle: string;
  round: number;
  connections: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** Requests that failed (for claim+ack, also a claim that found no job). */
  errors: number;
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };

/** Where the load goes: the leader, or a follower that passes each write on. */
export type AbVia = "leader" | "follower";

/** What each request is: an enqueue, or a claim and the ack of the job it leased (one pair). */
export type AbLoad = "enqueue" | "claim-ack";

/** Jobs a claim+ack round enqueues first: a warm-up and three rows of `rowMs` at 4,000 pairs/s. */
export function claimableJobs(rowMs: number): number {
  return Math.ceil((rowMs / 1000) * 4 * 4000 / 1000) * 1000;
}

/** Fills queue `ab` with `count` jobs, 1,000 a batch over 4 connections. */
export async function fill(url: string, count: number): Promise<void> {
  const jobs = Array.from({ length: 1000 }, () => ({ payload }));
  const batches = count / 1000;
  const r = await runLoad(
    4,
    600_000,
    async () => (await postJson(`${url}/v1/queues/ab/batch`, { jobs })) !== null,
    batches,
  );
  if (r.errors > 0) throw new Error(`the fill failed: ${r.errors} of ${batches} batches`);
}

/** One request of the load: true when it (and for a pair, both halves) succeeded. */
export function requestOf(url: string, load: AbLoad): (worker: number) => Promise<boolean> {
  if (load === "enqueue") {
    return async () => (await postJson(`${url}/v1/queues/ab/jobs`, { payload })) !== null;
  }
  return async (w) => {
    const claimed = await postJson(`${url}/v1/queues/ab/claim`, { worker: `w${w}` }) as
      | { jobs: { id: string; lease: string }[] }
      | null;
    const job = claimed?.jobs[0];
    if (!job) return false;
    return (await postJson(`${url}/v1/jobs/${job.id}/ack`, { lease: job.lease })) !== null;
  };
}

/** One round of one bundle: a fresh cluster, warmed up, then each row for `rowMs`. */
async function round(
  bundle: string,
  n: number,
  rowMs: number,
  via: AbVia,
  load: AbLoad,
): Promise<AbRow[]> {
  Deno.env.set("RAFTQ_BIN_JS", bundle);
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const target = via === "leader" ? leader : c.live().find((node) => node !== leader)!;
    const pids = c.live().map((node) => node.child.pid);
    if (load === "claim-ack") await fill(leader.url, claimableJobs(rowMs));
    const one = requestOf(target.url, load);
    await runLoad(64, Math.min(rowMs, 1500), one);
    const rows: AbRow[] = [];
    for (const connections of [1, 64, 256]) {
      const { result: r, cpuMs } = await withCpu(pids, () => runLoad(connections, rowMs, one));
      const { perSecond, p50Ms, p99Ms, errors } = r;
      const cpuUsPerRequest = (1000 * cpuMs) / Math.max(1, r.requests);
      rows.push({
        bundle,
        round: n,
        connections,
        perSecond,
        p50Ms,
        p99Ms,
        cpuUsPerRequest,
        errors,
      });
    }
    return rows;
  } finally {
    await c.stop();
  }
}

/** `rounds` rounds, the bundles alternating within each (A, B, A, B, ...). */
export async function benchAb(
  bundles: string[],
  rounds: number,
  rowMs: number,
  via: AbVia = "leader",
  load: AbLoad = "enqueue",
): Promise<AbRow[]> {
  const rows: AbRow[] = [];
  for (let n = 1; n <= rounds; n++) {
    for (const bundle of bundles) rows.push(...await round(bundle, n, rowMs, via, load));
  }
  return rows;
}
