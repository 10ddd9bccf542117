// A backlog of N jobs on three nodes (from the bundle): fill rate, memory, a join under load, restart.

import { DatabaseSync } from "node:sqlite";
import { type ClusterNode, loopDelayCounts, TestCluster } from "../../tests/helpers/cluster.ts";
import { call, waitFor } from "../../tests/helpers/node_process.ts";
import { samplesOf } from "./histograms.ts";
import { generatorFor, type LoadGenerator, luaQuota, wrkBin } from "./wrk.ts";

export interface ScaleReport {
  jobs: number;
  fillJobsPerSecond: number;
  /** The fill's rate from the moment a tenth of it was in: the nodes' code compiled and warm. */
  warmFillJobsPerSecond: number;
  /** What sent the fill's batches. */
  fillLoad: LoadGenerator;
  rssAfterFillMiB: number[];
  /** Each node's highest RSS so far (VmHWM) when the fill ended: the fill's peak, not a sample. */
  peakRssAfterFillMiB: number[];
  /** After `settleMs` without load: V8 gives back the heap the fill grew. */
  rssSettledMiB: number[];
  /** V8's heap (total, MiB) of each node when its RSS was read after the fill, and idle. */
  heapAfterFillMiB: number[];
  heapSettledMiB: number[];
  claimAckP99Ms: { deep: number; shallow: number };
  /** GET /v1/queues/:queue/jobs of 100 jobs: every state, and ready pages followed by cursor. */
  listP99Ms: { anyState: number; readyByCursor: number };
  snapshotMs: number;
  joinMs: number;
  /** Of the join: receiving the image (until its install began), and installing it. */
  joinTransferMs: number;
  joinInstallMs: number;
  maxRssDuringJoinMiB: number;
  /** Which node it was, and what it was doing then. */
  maxRssNode: string;
  writer: {
    writes: number;
    failed: number;
    maxMs: number;
    p99Ms: number;
    p99ReceivingMs: number;
    p99InstallingMs: number;
  };
  restartReadyMs: number;
  /**
   * The restarted follower had missed `jobs` jobs (batches written while it was down): until it
   * was ready and until it had caught up, the longest hold of any node's event loop meanwhile, and
   * the images it installed (0: it caught up from the leader's log).
   */
  catchUp: { jobs: number; ms: number; hold: LoopHold; images: number };
  /** The longest any node's event loop was held (a tick fired late), and which node. */
  loopDelay: { fill: LoopHold; join: LoopHold };
  diskBytesPerJob: number;
  /** Of the database file: the queue's tables and indexes, and the Raft log kept for followers. */
  fileSplit: FileSplit;
}

/** The longest hold of any node's event loop in a phase: at most `atMostMs`, on `node`. */
export interface LoopHold {
  atMostMs: number;
  node: string;
}

/**
 * Reads every node's tick-delay histogram now; the returned function reads it again and gives
 * the smallest bucket bound that holds every tick of the phase between, on the node where it is
 * largest.
 */
async function watchLoopDelay(c: TestCluster): Promise<() => Promise<LoopHold>> {
  const nodes = c.live();
  const before = await Promise.all(nodes.map(loopDelayCounts));
  return async () => {
    const hold: LoopHold = { atMostMs: 0, node: "" };
    for (const [k, n] of nodes.entries()) {
      const after = await loopDelayCounts(n).catch(() => null);
      if (!after) continue;
      const ticks = (after.get(Infinity) ?? 0) - (before[k].get(Infinity) ?? 0);
      const bounds = [...after.keys()].sort((a, b) => a - b);
      const bound = bounds.find((b) => (after.get(b) ?? 0) - (before[k].get(b) ?? 0) === ticks);
      if (bound !== undefined && bound > hold.atMostMs) {
        Object.assign(hold, { atMostMs: bound, node: n.id });
      }
    }
    return hold;
  };
}

/** Bytes a job of a database file's pages, by what holds them (free pages not counted). */
export interface FileSplit {
  stateBytesPerJob: number;
  logBytesPerJob: number;
}

const batchSize = 1000;
/** Idle time before the settled RSS is read: V8's memory reducer shrinks the heap by then. */
export const settleMs = 30_000;
const fillConnections = 4;

/** The node's resident memory now and its highest so far (VmRSS, VmHWM), MiB, in one read. */
function memoryMiB(n: ClusterNode): { rss: number; peak: number } {
  try {
    const status = Deno.readTextFileSync(`/proc/${n.child.pid}/status`);
    const mib = (field: RegExp) => Number(field.exec(status)?.[1] ?? 0) / 1024;
    return { rss: mib(/VmRSS:\s+(\d+)/), peak: mib(/VmHWM:\s+(\d+)/) };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

const rssMiB = (n: ClusterNode) => memoryMiB(n).rss;

/** The node's V8 heap (total, MiB) from its /metrics; NaN if it does not answer. */
async function heapMiB(n: ClusterNode): Promise<number> {
  try {
    const samples = samplesOf(await (await fetch(`${n.url}/metrics`)).text());
    return (samples.get("raftq_js_heap_total_bytes") ?? NaN) / 1024 / 1024;
  } catch {
    return NaN;
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    total += e.isDirectory ? dirBytes(path) : Deno.statSync(path).size;
  }
  return total;
}

/**
 * How the pages of the SQLite file at `path` divide between the Raft log (bounded by
 * --log-retain-bytes, whatever the backlog) and the rest (the queue's state: what grows with it),
 * per job; from SQLite's dbstat, read while the node runs (WAL lets a reader in).
 */
export function fileSplit(path: string, jobs: number): FileSplit {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name")
      .all() as { name: string; bytes: number }[];
    let logBytes = 0;
    let stateBytes = 0;
    for (const r of rows) {
      if (r.name === "raft_log") logBytes += r.bytes;
      else stateBytes += r.bytes;
    }
    return { stateBytesPerJob: stateBytes / jobs, logBytesPerJob: logBytes / jobs };
  } finally {
    db.close();
  }
}

/** When a node logged `event` (its JSON line's ts), as epoch milliseconds; NaN if it did not. */
function loggedAtMs(stderr: string[], event: string): number {
  const line = stderr.find((l) => l.includes(`"event":"${event}"`));
  return line ? Date.parse(JSON.parse(line).ts) : NaN;
}

/** The body of every batch the fills send. */
function batchBody(): string {
  const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(60) };
  return JSON.stringify({ jobs: Array.from({ length: batchSize }, () => ({ payload })) });
}

/** A fill's rate: over all of it, and from when a tenth of it was in (see FillClock). */
interface FillRate {
  jobsPerSecond: number;
  warmJobsPerSecond: number;
}

/**
 * Times a fill from its start, told the jobs in so far whenever they are counted. Fresh nodes
 * take a second or two to compile their hot paths (the first 2 s of a fill ran at 83–87 batches
 * a second, the next at 108–123: docs/benchmarks.md, twenty-second session), so the rate from
 * the first count of a tenth on is given too: what a cluster that has run a while sustains.
 */
class FillClock {
  readonly #startMs = performance.now();
  #tenth: { ms: number; jobs: number } | null = null;

  constructor(readonly jobs: number) {}

  seen(jobsIn: number): void {
    if (!this.#tenth && jobsIn >= this.jobs / 10) {
      this.#tenth = { ms: performance.now(), jobs: Math.min(jobsIn, this.jobs) };
    }
  }

  done(): FillRate {
    const nowMs = performance.now();
    const from = this.#tenth ?? { ms: this.#startMs, jobs: 0 };
    return {
      jobsPerSecond: this.jobs / ((nowMs - this.#startMs) / 1000),
      warmJobsPerSecond: (this.jobs - from.jobs) / ((nowMs - from.ms) / 1000),
    };
  }
}

/**
 * The backlog's fill: `jobs` jobs into `queue` in batches of 1,000 over 4 connections, from wrk
 * where it is installed (see LoadGenerator: the fetch loop, on the cores the nodes share, took a
 * fifth off the fill's rate on one cluster), else the fetch loop.
 */
async function fillBacklog(
  url: string,
  queue: string,
  jobs: number,
  generator: LoadGenerator,
): Promise<FillRate> {
  if (generator === "fetch") return await fill(url, queue, jobs);
  const dir = await Deno.makeTempDir({ prefix: "raftq-fill-" });
  try {
    const script = `${dir}/fill.lua`;
    const batches = Math.ceil(jobs / batchSize);
    await Deno.writeTextFile(
      script,
      luaQuota("POST", `/v1/queues/${queue}/batch`, batchBody(), batches, 2, 201),
    );
    const args = ["-t2", `-c${fillConnections}`, "-d3600s", "--timeout", "60s", "-s", script, url];
    const clock = new FillClock(jobs);
    const wrk = new Deno.Command(wrkBin, { args, stdout: "null", stderr: "null" }).spawn();
    try {
      // (wrk sleeps its whole duration however early its threads stop: SIGINT ends it)
      const filled = () => queued(url, queue, jobs, (n) => clock.seen(n));
      await waitFor(`${jobs} jobs in ${queue}`, filled, 3_600_000);
      return clock.done();
    } finally {
      wrk.kill("SIGINT");
      await wrk.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Whether `queue` holds at least `jobs` ready jobs, as the node at `url` answers; `seen` the count. */
async function queued(
  url: string,
  queue: string,
  jobs: number,
  seen: (ready: number) => void,
): Promise<boolean> {
  const r = await call(`${url}/v1/queues/${queue}`, "GET");
  if (r.status !== 200) return false;
  seen(r.body.ready);
  return r.body.ready >= jobs;
}

/** Enqueues `jobs` jobs into `queue` in batches of 1,000 over 4 connections. */
async function fill(url: string, queue: string, jobs: number): Promise<FillRate> {
  const body = batchBody();
  const batches = Math.ceil(jobs / batchSize);
  let left = batches;
  const clock = new FillClock(batches * batchSize);
  let acked = 0;
  await Promise.all(Array.from({ length: fillConnections }, async () => {
    while (left-- > 0) {
      for (;;) {
        const res = await fetch(`${url}/v1/queues/${queue}/batch`, { method: "POST", body });
        await res.body?.cancel();
        if (res.status === 201) break;
        await new Promise((r) => setTimeout(r, 100)); // a 503 under load: as a client would
      }
      clock.seen(++acked * batchSize);
    }
  }));
  return clock.done();
}

/** The p99 of `rounds` claim+ack pairs on `queue`, one connection. */
async function claimAckP99(url: string, queue: string, rounds: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const c = await call(`${url}/v1/queues/${queue}/claim`, "POST", { worker: "bench", max: 1 });
    const job = c.body?.jobs?.[0];
    if (!job) throw new Error(`claim on ${queue} gave no job: ${JSON.stringify(c.body)}`);
    await call(`${url}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease });
    times.push(performance.now() - t0);
  }
  return p99(times);
}

/** The p99 of page reads of `queue`: the first page of every state, and ready pages in a row. */
async function listP99(url: string, queue: string, rounds: number) {
  const timed = async (path: string) => {
    const t0 = performance.now();
    const r = await call(`${url}${path}`, "GET");
    if (r.status !== 200 || r.body.jobs.length === 0) throw new Error(`list: ${r.status}`);
    return { ms: performance.now() - t0, next: r.body.next as string | null };
  };
  const anyState: number[] = [];
  const byCursor: number[] = [];
  let cursor = "";
  for (let i = 0; i < rounds; i++) {
    anyState.push((await timed(`/v1/queues/${queue}/jobs?limit=100`)).ms);
    const page = await timed(`/v1/queues/${queue}/jobs?state=ready&limit=100${cursor}`);
    byCursor.push(page.ms);
    // (the last page: start over, so a small backlog still gives every round a page)
    cursor = page.next ? `&cursor=${page.next}` : "";
  }
  return { anyState: p99(anyState), readyByCursor: p99(byCursor) };
}

/** The p99 of `times` (milliseconds), 0 for none. */
function p99(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.99)] ?? 0;
}

/**
 * Enqueues one job every 50 ms until `stop(installFrom, installTo)`; each answer timed. The p99
 * is also given for the writes sent while the new node received the image and while it installed
 * it (wall-clock epoch ms, from its log).
 */
function startWriter(url: string) {
  const samples: { atMs: number; ms: number }[] = [];
  let failed = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const atMs = Date.now();
      const t0 = performance.now();
      const r = await call(`${url}/v1/queues/live/jobs`, "POST", { payload: 1 })
        .catch(() => ({ status: 0 }));
      samples.push({ atMs, ms: performance.now() - t0 });
      if (r.status !== 201) failed++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return async (installFromMs: number, installToMs: number) => {
    running = false;
    await done;
    const during = (from: number, to: number) =>
      p99(samples.filter((s) => s.atMs >= from && s.atMs < to).map((s) => s.ms));
    return {
      writes: samples.length,
      failed,
      maxMs: Math.max(0, ...samples.map((s) => s.ms)),
      p99Ms: p99(samples.map((s) => s.ms)),
      p99ReceivingMs: during(0, installFromMs),
      p99InstallingMs: during(installFromMs, installToMs),
    };
  };
}

export async function benchScale(
  jobs: number,
  generator: LoadGenerator = "wrk",
): Promise<ScaleReport> {
  const c = await TestCluster.start(3);
  try {
    const fillGenerator = await generatorFor(generator);
    const watchFill = await watchLoopDelay(c);
    const { fillHold, ...backlog } = await fillAndSettle(c, jobs, fillGenerator, watchFill);
    const watchJoin = await watchLoopDelay(c);
    const join = await joinUnderLoad(c);
    const loopDelay = { fill: fillHold, join: await watchJoin() };
    const { restartReadyMs, catchUp } = await restartBehind(c, catchUpJobs(jobs));
    return {
      jobs,
      fillLoad: fillGenerator,
      ...backlog,
      ...join,
      restartReadyMs,
      catchUp,
      loopDelay,
    };
  } finally {
    await c.stop();
  }
}

/**
 * Fills the cluster, lets it idle, then times claims, listings and the disk at that depth;
 * `fillHold` ends the watch of the event loops begun before the fill.
 */
async function fillAndSettle(
  c: TestCluster,
  jobs: number,
  generator: LoadGenerator,
  watchFill: () => Promise<LoopHold>,
) {
  const leader = await c.leader();
  const rate = await fillBacklog(leader.url, "big", jobs, generator);
  await fill(leader.url, "small", 1000);
  await c.converged(600_000);
  const fillHold = await watchFill();
  const memoryAfterFill = c.live().map(memoryMiB);
  const rssAfterFillMiB = memoryAfterFill.map((m) => m.rss);
  const peakRssAfterFillMiB = memoryAfterFill.map((m) => m.peak);
  const heapAfterFillMiB = await Promise.all(c.live().map(heapMiB));
  await new Promise((r) => setTimeout(r, settleMs)); // the measurement is of an idle node
  const rssSettledMiB = c.live().map(rssMiB);
  const heapSettledMiB = await Promise.all(c.live().map(heapMiB));
  const claimAckP99Ms = {
    deep: await claimAckP99(leader.url, "big", 300),
    shallow: await claimAckP99(leader.url, "small", 300),
  };
  const listP99Ms = await listP99(leader.url, "big", 200);
  const diskBytesPerJob = dirBytes(leader.dataDir) / jobs;
  const split = fileSplit(`${leader.dataDir}/raftq.db`, jobs);
  return {
    fillJobsPerSecond: rate.jobsPerSecond,
    warmFillJobsPerSecond: rate.warmJobsPerSecond,
    rssAfterFillMiB,
    peakRssAfterFillMiB,
    rssSettledMiB,
    heapAfterFillMiB,
    heapSettledMiB,
    claimAckP99Ms,
    listP99Ms,
    diskBytesPerJob,
    fileSplit: split,
    fillHold,
  };
}

/** Takes an image, then has a fourth node join while a writer enqueues and memory is sampled. */
async function joinUnderLoad(c: TestCluster) {
  const leader = await c.leader();
  const t0 = performance.now();
  const snap = await call(`${leader.url}/admin/snapshot`, "POST");
  if (snap.status !== 200) throw new Error(`snapshot: ${JSON.stringify(snap.body)}`);
  const snapshotMs = performance.now() - t0;
  const stopWriter = startWriter(leader.url);
  const peak = { rss: 0, node: "" };
  const sampling = setInterval(() => {
    for (const n of c.live()) {
      const rss = rssMiB(n);
      if (rss <= peak.rss) continue;
      peak.rss = rss;
      peak.node = n.id === "n4" ? "n4, joining" : n === leader ? `${n.id}, leader` : n.id;
    }
  }, 250);
  const j0 = performance.now();
  const j0Wall = Date.now();
  const n4 = await c.join("n4");
  await c.waitForVoters(4, 30 * 60_000).catch((err) => {
    throw new Error(`${err}\n${c.dump(20)}`);
  });
  const joinMs = performance.now() - j0;
  clearInterval(sampling);
  const at = (event: string) => loggedAtMs(n4.stderr, event);
  const writer = await stopWriter(at("snapshot_installing"), at("snapshot_installed"));
  return {
    snapshotMs,
    joinMs,
    joinTransferMs: at("snapshot_installing") - j0Wall,
    joinInstallMs: at("snapshot_installed") - at("snapshot_installing"),
    maxRssDuringJoinMiB: peak.rss,
    maxRssNode: peak.node,
    writer,
  };
}

/** What a follower misses while down: a tenth of the backlog, at most 400 batches (72 MB of log). */
export const catchUpJobs = (jobs: number) =>
  Math.min(400, Math.max(1, Math.round(jobs / 10 / batchSize))) * batchSize;

/**
 * Kills a follower (not the joined node), writes `missed` jobs, restarts it and times it until
 * ready, then until caught up, watching every node's event loop meanwhile.
 */
async function restartBehind(c: TestCluster, missed: number) {
  const leader = await c.leader();
  const follower = c.live().find((n) => n !== leader && n.id !== "n4")!;
  await c.kill(follower);
  await fill(leader.url, "missed", missed);
  const r0 = performance.now();
  const back = await c.restart(follower);
  const watch = await watchLoopDelay(c);
  await waitFor("the restarted node to be ready", async () => {
    const r = await fetch(`${back.url}/readyz`).catch(() => null);
    await r?.body?.cancel();
    return r?.status === 200;
  }, 60_000);
  const restartReadyMs = performance.now() - r0;
  await c.converged(600_000);
  const ms = performance.now() - r0;
  const images = back.stderr.filter((l) => l.includes('"event":"snapshot_installing"')).length;
  return { restartReadyMs, catchUp: { jobs: missed, ms, hold: await watch(), images } };
}
