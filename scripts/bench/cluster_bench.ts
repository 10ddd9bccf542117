// Three raftq nodes (from the bundle) against three etcd members, same load generator, same machine.

import { TestCluster } from "../../tests/helpers/cluster.ts";
import { etcdGet, etcdPut, etcdTxn, etcdValue, startEtcd } from "./etcd.ts";
import { getOk, type LoadResult, postJson, runLoad } from "./load.ts";
import { withCpu } from "./proc_cpu.ts";
import { writeStages } from "../../src/node/write_trace.ts";
import {
  meanMs,
  type Series,
  walFsyncMetric,
  type WalFsyncs,
  walFsyncsOf,
  withHistograms,
  writeStageSeries,
} from "./histograms.ts";
import {
  generatorFor,
  type LoadGenerator,
  luaFixed,
  luaKeyed,
  luaWorker,
  runWrk,
  type WrkLoad,
} from "./wrk.ts";

/** A row's load, and the CPU the three servers used for it, per request (µs). */
export type Measured = LoadResult & {
  serverCpuUsPerRequest: number;
  /** Each server process's CPU a request, the busiest first (a full one bounds the row). */
  processCpuUsPerRequest: number[];
  /** The servers' log fsyncs (from their own histograms): per request, and their mean. */
  walFsyncs: WalFsyncs;
  /**
   * raftq's leader: ms from a sampled proposal to each of writeStages (null when the row wrote
   * nothing the leader proposed, or for etcd).
   */
  writeStagesMs: number[] | null;
  loadGenerator: LoadGenerator;
};

/**
 * The servers of a session: their processes, where their /metrics are, and the histograms read
 * there around each row: the log's fsyncs first, then (raftq) the write stages, which only the
 * leader records (it alone proposes), so the sum over the servers is the leader's.
 */
interface Servers {
  pids: number[];
  urls: string[];
  series: readonly Series[];
}

/** A row shows where its writes' time went when the leader followed at least this many. */
const minStageSamples = 10;

export interface ClusterRow {
  workload: string;
  raftq: Measured;
  etcd: Measured;
  /** Multiplier from requests to jobs/keys (100 for batches). */
  itemsPerRequest: number;
  /** Every round, when the row was measured more than once. */
  rounds?: { raftq: Measured[]; etcd: Measured[] };
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };

/** Rounds of the headline row (64 connections to the leader), raftq and etcd alternating. */
export const headlineRounds = 5;
export const headline = "enqueue / put, 64 conn, via leader";
/** Load before the measured rows of each session, at 64 connections to the leader. */
const warmUpMs = 1500;

/** Where a session sends load: the leader's and a follower's URL. */
interface Targets {
  leader: string;
  follower: string;
}

/** One row: the raftq request and its etcd analogue, each one closed-loop iteration. */
interface Workload {
  name: string;
  conns: number;
  /** Jobs or keys per request (100 for batches). */
  itemsPerRequest?: number;
  raftq(t: Targets): (worker: number) => Promise<boolean>;
  etcd(t: Targets, key: () => string): () => Promise<boolean>;
  /** The same load for wrk (a worker row's next request takes its job from an earlier answer). */
  wrk: {
    raftq(t: Targets): Promise<WrkLoad>;
    /** `tag`: four base64 letters of this session's, in every key it writes. */
    etcd(t: Targets, tag: string): Promise<WrkLoad>;
  };
}

const payloadBody = JSON.stringify({ payload });
/** etcd's PUT and transaction bodies around each key (see luaKeyed). */
const etcdPutParts = {
  open: "",
  before: '{"key":"',
  after: `","value":"${etcdValue}"}`,
  between: "",
  close: "",
};
const etcdTxnParts = {
  open: '{"success":[',
  before: '{"requestPut":{"key":"',
  after: `","value":"${etcdValue}"}}`,
  between: ",",
  close: "]}",
};
const etcdReadKey = "k/0";

const jobs = Array.from({ length: 100 }, () => ({ payload }));

type Leased = { id: string; lease: string };

/** One job of the batch rows' queue, leased to worker `w` (undefined: none, or a refusal). */
async function claimOne(leader: string, w: number): Promise<Leased | undefined> {
  const r = await postJson(`${leader}/v1/queues/batch/claim`, { worker: `w${w}` }) as
    | { jobs: Leased[] }
    | null;
  return r?.jobs[0];
}
const ok = async (r: Promise<unknown>) => (await r) !== null;

/** The workloads in table order; a session measures all of them, or the headline alone. */
const workloads: Workload[] = [
  ...(["leader", "follower"] as const).flatMap((via) =>
    [1, 64, 256].map((conns): Workload => ({
      name: `enqueue / put, ${conns} conn, via ${via}`,
      conns,
      raftq: (t) => () => ok(postJson(`${t[via]}/v1/queues/bench/jobs`, { payload })),
      etcd: (t, key) => () => etcdPut(t[via], key()),
      wrk: {
        raftq: (t) =>
          Promise.resolve({
            url: t[via],
            lua: luaFixed("POST", "/v1/queues/bench/jobs", payloadBody),
          }),
        etcd: (t, tag) =>
          Promise.resolve({ url: t[via], lua: luaKeyed("/v3/kv/put", tag, etcdPutParts) }),
      },
    }))
  ),
  // Linearizable reads of one job (etcd: of one key written by the rows above): through a
  // follower, raftq's is served there at the leader's read index.
  ...(["leader", "follower"] as const).map((via): Workload => ({
    name: `read a job / get, 64 conn, via ${via}`,
    conns: 64,
    raftq: (t) => {
      const id = postJson(`${t.leader}/v1/queues/reads/jobs`, { payload }) as Promise<
        { id: string } | null
      >;
      return async () => {
        const job = await id;
        return !!job && await getOk(`${t[via]}/v1/jobs/${job.id}`);
      };
    },
    etcd: (t) => () => etcdGet(t[via], etcdReadKey),
    wrk: {
      raftq: async (t) => {
        const job = await postJson(`${t.leader}/v1/queues/reads/jobs`, { payload }) as
          | { id: string }
          | null;
        if (!job) throw new Error("the read row's job was not enqueued");
        return { url: t[via], lua: luaFixed("GET", `/v1/jobs/${job.id}`) };
      },
      etcd: async (t) => {
        if (!await etcdPut(t.leader, etcdReadKey)) throw new Error("etcd took no PUT");
        const body = JSON.stringify({ key: new TextEncoder().encode(etcdReadKey).toBase64() });
        return { url: t[via], lua: luaFixed("POST", "/v3/kv/range", body) };
      },
    },
  })),
  {
    name: "batch of 100 / txn of 100 puts, 16 conn",
    conns: 16,
    itemsPerRequest: 100,
    raftq: (t) => () => ok(postJson(`${t.leader}/v1/queues/batch/batch`, { jobs })),
    etcd: (t, key) => () => etcdTxn(t.leader, key(), 100),
    wrk: {
      raftq: (t) =>
        Promise.resolve({
          url: t.leader,
          lua: luaFixed("POST", "/v1/queues/batch/batch", JSON.stringify({ jobs })),
        }),
      etcd: (t, tag) =>
        Promise.resolve({ url: t.leader, lua: luaKeyed("/v3/kv/txn", tag, etcdTxnParts, 100) }),
    },
  },
  {
    // Claims from the jobs the batch row enqueued.
    name: "claim+ack pair / two sequential puts, 64 conn",
    conns: 64,
    raftq: (t) => async (w) => {
      const job = await claimOne(t.leader, w);
      return !!job && ok(postJson(`${t.leader}/v1/jobs/${job.id}/ack`, { lease: job.lease }));
    },
    etcd: (t, key) => async () => (await etcdPut(t.leader, key())) && etcdPut(t.leader, key()),
    wrk: workerWrk(false),
  },
  {
    // A worker loop as the Worker runs it: each ack asks for the next job (one request a job;
    // a worker's first job is claimed in its first iteration). Its etcd analogue stays the pair's.
    name: "job by ack with next claim / two sequential puts, 64 conn",
    conns: 64,
    raftq: (t) => {
      const held = new Map<number, Leased | undefined>();
      return async (w) => {
        const job = held.get(w) ?? await claimOne(t.leader, w);
        if (!job) return false;
        const next = { queue: "batch", worker: `w${w}` };
        const r = await postJson(`${t.leader}/v1/jobs/${job.id}/ack`, { lease: job.lease, next }) as
          | { jobs: Leased[] }
          | null;
        held.set(w, r?.jobs[0]);
        return r !== null;
      };
    },
    etcd: (t, key) => async () => (await etcdPut(t.leader, key())) && etcdPut(t.leader, key()),
    wrk: workerWrk(true),
  },
];

/**
 * A worker row under wrk: raftq's jobs acked a second (luaWorker), etcd's puts two to a pair. The
 * percentiles are then of each request, not of a pair as the fetch loop times them.
 */
function workerWrk(next: boolean): Workload["wrk"] {
  return {
    raftq: (t) => Promise.resolve({ url: t.leader, lua: luaWorker("batch", next), count: "acks" }),
    etcd: (t, tag) =>
      Promise.resolve({
        url: t.leader,
        lua: luaKeyed("/v3/kv/put", tag, etcdPutParts),
        count: { requestsPerResult: 2 },
      }),
  };
}

type Session = Map<string, Measured>;

/**
 * Measures `names` against one system: first unmeasured warm-up load (JIT, caches, connections;
 * both systems get it), then each workload's run.
 */
async function measure(
  durationMs: number,
  names: string[],
  servers: Servers,
  run: Runner,
): Promise<Session> {
  const out: Session = new Map();
  await run(workloads.find((w) => w.name === headline)!, warmUpMs);
  for (const w of workloads.filter((w) => names.includes(w.name))) {
    // (/metrics is read outside the CPU's window: its answers are not the row's work)
    const read = await withHistograms(
      servers.urls,
      servers.series,
      () => withCpu(servers.pids, () => run(w, durationMs)),
    );
    const { result, cpuMs, eachMs } = read.result;
    const [fsyncs, ...stages] = read.grown;
    const perRequest = (ms: number) => (ms * 1000) / Math.max(1, result.requests);
    // (a read row's set-up writes a job or two: too few to say where a write's time goes)
    const sampled = stages.length > 0 && stages.every((t) => t.count >= minStageSamples);
    out.set(w.name, {
      ...result,
      serverCpuUsPerRequest: perRequest(cpuMs),
      processCpuUsPerRequest: eachMs.map(perRequest).sort((a, b) => b - a),
      walFsyncs: walFsyncsOf(fsyncs, result.requests),
      writeStagesMs: sampled ? stages.map(meanMs) : null,
    });
  }
  return out;
}

/** Runs one workload's load on one system for `durationMs`, and says what drove it. */
type Runner = (
  w: Workload,
  durationMs: number,
) => Promise<LoadResult & { loadGenerator: LoadGenerator }>;

/**
 * A Runner on `generator`. Each workload's form for it is made only when its row runs (the read
 * rows enqueue their job then).
 */
function runner(
  generator: LoadGenerator,
  viaWrk: (w: Workload) => Promise<WrkLoad>,
  viaFetch: (w: Workload) => (worker: number) => Promise<boolean>,
): Runner {
  return async (w, durationMs) => {
    const result = generator === "wrk"
      ? await runWrk(await viaWrk(w), w.conns, durationMs)
      : await runLoad(w.conns, durationMs, viaFetch(w));
    return { ...result, loadGenerator: generator };
  };
}

/** Starts a raftq cluster, measures `names` (after the headline row's warm-up), stops it. */
export async function raftqSession(
  durationMs: number,
  names: string[],
  generator: LoadGenerator,
): Promise<Session> {
  const cluster = await TestCluster.start(3);
  try {
    const leader = await cluster.leader();
    const follower = cluster.live().find((n) => n !== leader)!;
    const t = { leader: leader.url, follower: follower.url };
    const servers = {
      pids: cluster.live().map((n) => n.child.pid),
      urls: cluster.live().map((n) => n.url),
      series: [{ name: walFsyncMetric.raftq }, ...writeStageSeries],
    };
    const run = runner(generator, (w) => w.wrk.raftq(t), (w) => w.raftq(t));
    return await measure(durationMs, names, servers, run);
  } finally {
    await cluster.stop();
  }
}

/** Starts an etcd cluster, measures the analogue of `names`, stops it. */
async function etcdSession(
  durationMs: number,
  names: string[],
  generator: LoadGenerator,
): Promise<Session> {
  const etcd = await startEtcd();
  try {
    let n = 0;
    const t = { leader: etcd.leaderUrl, follower: etcd.followerUrl };
    const tags = keyTags();
    const run = runner(
      generator,
      (w) => w.wrk.etcd(t, tags.next().value!),
      (w) => w.etcd(t, () => `k/${n++}`),
    );
    const servers = {
      pids: etcd.pids,
      urls: etcd.clientUrls,
      series: [{ name: walFsyncMetric.etcd }],
    };
    return await measure(durationMs, names, servers, run);
  } finally {
    await etcd.stop();
  }
}

/** Four base64 letters for each wrk run against etcd, so runs of a session write other keys. */
function* keyTags(): Generator<string, never> {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let k = 0;; k++) {
    yield Array.from({ length: 4 }, (_, i) => letters[Math.floor(k / 52 ** i) % 52]).join("");
  }
}

/** Each figure's median over the rounds (throughput, p50 and p99 each on its own). */
function median(results: Measured[]): Measured {
  const mid = (f: (r: Measured) => number) =>
    results.map(f).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  return {
    concurrency: results[0].concurrency,
    requests: mid((r) => r.requests),
    errors: results.reduce((n, r) => n + r.errors, 0),
    perSecond: mid((r) => r.perSecond),
    p50Ms: mid((r) => r.p50Ms),
    p99Ms: mid((r) => r.p99Ms),
    serverCpuUsPerRequest: mid((r) => r.serverCpuUsPerRequest),
    processCpuUsPerRequest: results[0].processCpuUsPerRequest.map((_, i) =>
      mid((r) => r.processCpuUsPerRequest[i])
    ),
    walFsyncs: {
      perRequest: mid((r) => r.walFsyncs.perRequest),
      meanMs: mid((r) => r.walFsyncs.meanMs),
    },
    writeStagesMs: results.every((r) => r.writeStagesMs)
      ? writeStages.map((_, i) => mid((r) => r.writeStagesMs![i]))
      : null,
    loadGenerator: results[0].loadGenerator,
  };
}

/**
 * One system runs at a time (the other is stopped, so neither pays for the other's idle
 * heartbeats). The first raftq and etcd sessions measure every row; then the headline row is
 * measured again in fresh sessions, raftq and etcd alternating, and each figure's median over
 * the rounds is reported, so a slow minute of a shared machine does not decide the comparison.
 */
export async function benchCluster(
  durationMs: number,
  generator: LoadGenerator = "wrk",
): Promise<ClusterRow[]> {
  const used = await generatorFor(generator);
  const raftqRounds: Session[] = [];
  const etcdRounds: Session[] = [];
  for (let k = 0; k < headlineRounds; k++) {
    const names = k === 0 ? workloads.map((w) => w.name) : [headline];
    raftqRounds.push(await raftqSession(durationMs, names, used));
    etcdRounds.push(await etcdSession(durationMs, names, used));
  }
  return workloads.map(({ name: workload, itemsPerRequest = 1 }) => {
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
