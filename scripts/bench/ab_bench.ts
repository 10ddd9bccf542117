// Two builds of raftq, back to back: three nodes from each bundle in turn, rounds alternating,
// enqueues to the leader (or through a follower) at 1, 64 and 256 connections, with the servers'
// CPU per request.

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
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };

/** Where the load goes: the leader, or a follower that passes each write on. */
export type AbVia = "leader" | "follower";

/** One round of one bundle: a fresh cluster, warmed up, then each row for `rowMs`. */
async function round(bundle: string, n: number, rowMs: number, via: AbVia): Promise<AbRow[]> {
  Deno.env.set("RAFTQ_BIN_JS", bundle);
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const target = via === "leader" ? leader : c.live().find((node) => node !== leader)!;
    const pids = c.live().map((node) => node.child.pid);
    const one = async () =>
      (await postJson(`${target.url}/v1/queues/ab/jobs`, { payload })) !== null;
    await runLoad(64, Math.min(rowMs, 1500), one);
    const rows: AbRow[] = [];
    for (const connections of [1, 64, 256]) {
      const { result: r, cpuMs } = await withCpu(pids, () => runLoad(connections, rowMs, one));
      const { perSecond, p50Ms, p99Ms } = r;
      const cpuUsPerRequest = (1000 * cpuMs) / Math.max(1, r.requests);
      rows.push({ bundle, round: n, connections, perSecond, p50Ms, p99Ms, cpuUsPerRequest });
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
): Promise<AbRow[]> {
  const rows: AbRow[] = [];
  for (let n = 1; n <= rounds; n++) {
    for (const bundle of bundles) rows.push(...await round(bundle, n, rowMs, via));
  }
  return rows;
}
