// Two builds of raftq, back to back: three nodes from each bundle in turn, rounds alternating,
// enqueues (or claim+ack pairs) to the leader or through a follower at 1, 64 and 256 connections,
// with the servers' CPU per request.

import { TestCluster } from "../../tests/helpers/cluster.ts";
import { postJson, runLoad } from "./load.ts";
import { withCpu } from "./proc_cpu.ts";
import { warmBundle } from "./warm_bundle.ts";
import {
  generatorFor,
  type LoadGenerator,
  luaWorker,
  postingLoad,
  rowDurationMs,
  type RowLoad,
  runRow,
} from "./wrk.ts";

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
  loadGenerator: LoadGenerator;
}

/** The body of a job's email unless `--payload-bytes` says otherwise (characters). */
export const defaultBodyChars = 160;

/** The jobs' payload: an email with a body of `bodyChars` characters. */
const payloadOf = (bodyChars: number) => ({
  kind: "email",
  to: "someone@example.com",
  body: "x".repeat(bodyChars),
});

/** Bytes of payloads a claim+ack round's fill writes at most (each node keeps them all). */
const fillBudgetBytes = 192 * 1024 * 1024;

/** Where the load goes: the leader, or a follower that passes each write on. */
export type AbVia = "leader" | "follower";

/** What each request is: an enqueue, or a claim and the ack of the job it leased (one pair). */
export type AbLoad = "enqueue" | "claim-ack";

/**
 * Jobs a claim+ack round enqueues first: a warm-up and three rows of `rowMs` at 4,000 pairs/s, or
 * what fillBudgetBytes holds of jobs of `bodyChars`.
 */
export function claimableJobs(rowMs: number, bodyChars = defaultBodyChars): number {
  const wanted = Math.ceil((rowMs / 1000) * 4 * 4000 / 1000) * 1000;
  return Math.min(wanted, Math.floor(fillBudgetBytes / (bodyChars + 60)));
}

/** Fills queue `ab` with `count` jobs over 4 connections, batches of up to 1,000 within 512 KiB. */
export async function fill(
  url: string,
  count: number,
  bodyChars = defaultBodyChars,
): Promise<void> {
  const perBatch = Math.max(1, Math.min(1000, Math.floor(512 * 1024 / (bodyChars + 60))));
  const job = { payload: payloadOf(bodyChars) };
  const jobs = Array.from({ length: perBatch }, () => job);
  const batches = Math.ceil(count / perBatch);
  const r = await runLoad(
    4,
    600_000,
    async () => (await postJson(`${url}/v1/queues/ab/batch`, { jobs })) !== null,
    batches,
  );
  if (r.errors > 0) throw new Error(`the fill failed: ${r.errors} of ${batches} batches`);
}

/**
 * The load on the node at `url`: for wrk, a fixed enqueue or a Lua worker (its rate is of jobs
 * acked); for the fetch loop, one request, true when it (and for a pair, both halves) succeeded.
 */
export function rowLoadOf(url: string, load: AbLoad, bodyChars = defaultBodyChars): RowLoad {
  if (load === "claim-ack") {
    return {
      wrk: { url, lua: luaWorker("ab", false), count: "acks" },
      fetch: async (w) => {
        const claimed = await postJson(`${url}/v1/queues/ab/claim`, { worker: `w${w}` }) as
          | { jobs: { id: string; lease: string }[] }
          | null;
        const job = claimed?.jobs[0];
        if (!job) return false;
        return (await postJson(`${url}/v1/jobs/${job.id}/ack`, { lease: job.lease })) !== null;
      },
    };
  }
  return postingLoad(url, "/v1/queues/ab/jobs", { payload: payloadOf(bodyChars) });
}

/** How an A/B run loads each cluster: rows of `rowMs`, payloads with a body of `bodyChars`. */
export interface AbOptions {
  rowMs: number;
  via: AbVia;
  load: AbLoad;
  bodyChars: number;
  /** The rows: how many connections each sends on. */
  connections: readonly number[];
  /** What drives the rows (wrk by default; rows of it last whole seconds, at least one). */
  generator?: LoadGenerator;
}

/** One round of one bundle: a fresh cluster, warmed up, then each row for `rowMs`. */
async function round(
  bundle: string,
  n: number,
  o: AbOptions,
  generator: LoadGenerator,
): Promise<AbRow[]> {
  const { rowMs, via, load, bodyChars, connections: rowConnections } = o;
  Deno.env.set("RAFTQ_BIN_JS", bundle);
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const target = via === "leader" ? leader : c.live().find((node) => node !== leader)!;
    const pids = c.live().map((node) => node.child.pid);
    if (load === "claim-ack") {
      const jobs = claimableJobs(rowDurationMs(generator, rowMs), bodyChars);
      await fill(leader.url, jobs, bodyChars);
    }
    const rowLoad = rowLoadOf(target.url, load, bodyChars);
    const run = (conns: number, ms: number) => runRow(generator, rowLoad, conns, ms);
    await run(64, Math.min(rowMs, 1500));
    const rows: AbRow[] = [];
    for (const connections of rowConnections) {
      const { result: r, cpuMs } = await withCpu(pids, () => run(connections, rowMs));
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
        loadGenerator: generator,
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
  options: AbOptions,
): Promise<AbRow[]> {
  const generator = await generatorFor(options.generator ?? "wrk");
  for (const bundle of bundles) await warmBundle(bundle);
  const rows: AbRow[] = [];
  for (let n = 1; n <= rounds; n++) {
    for (const bundle of bundles) rows.push(...await round(bundle, n, options, generator));
  }
  return rows;
}
