// `deno task bench`: every benchmark section; prints its figures and the command that made them.

import { parseArgs } from "node:util";
import { benchCommitThroughput, benchElectionTime } from "./bench/core_bench.ts";
import { benchCompaction, benchStorage } from "./bench/storage_bench.ts";
import { benchSingleNode } from "./bench/node_bench.ts";
import { benchWan } from "./bench/wan_bench.ts";
import { benchProfile, printProfile, profileWorkloads } from "./bench/profile_bench.ts";
import { benchCluster, type ClusterRow } from "./bench/cluster_bench.ts";
import { writeStages } from "../src/node/write_trace.ts";
import { benchScale, settleMs } from "./bench/scale_bench.ts";
import { fmt, type LoadResult } from "./bench/load.ts";
import { benchWorker, workerMedian } from "./bench/worker_bench.ts";
import { benchAb, defaultBodyChars } from "./bench/ab_bench.ts";
import { warmBundle } from "./bench/warm_bundle.ts";

const sections = [
  "core",
  "storage",
  "node",
  "cluster",
  "worker",
  "scale",
  "wan",
  "profile",
  "profile-one",
  "profile-fill",
  "profile-claim",
  "ab",
] as const;
type Section = (typeof sections)[number];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    quick: { type: "boolean" },
    jobs: { type: "string" },
    bundles: { type: "string" },
    rounds: { type: "string" },
    via: { type: "string" },
    load: { type: "string" },
    "payload-bytes": { type: "string" },
    connections: { type: "string" },
    generator: { type: "string" },
  },
  strict: true,
});
const only = values.only?.split(",") as Section[] | undefined;
if (only?.some((s) => !sections.includes(s))) {
  console.error(`Unknown section in --only: choose from ${sections.join(", ")}`);
  Deno.exit(2);
}
if (values.via !== undefined && values.via !== "leader" && values.via !== "follower") {
  console.error("--via must be leader or follower");
  Deno.exit(2);
}
if (values.generator !== undefined && !["wrk", "fetch"].includes(values.generator)) {
  console.error("--generator must be wrk or fetch");
  Deno.exit(2);
}
/** What drives the cluster, WAN, A/B and profile rows: wrk (default), or the bench's fetch loop. */
const generator = values.generator === "fetch" ? "fetch" : "wrk";
const quick = values.quick === true;
const scaleJobs = Number(values.jobs ?? (quick ? 50_000 : 1_000_000));
if (!Number.isSafeInteger(scaleJobs) || scaleJobs < 10_000) {
  console.error("--jobs must be a whole number of at least 10000");
  Deno.exit(2);
}
/** Clusters run the bundle, as users and CI do: built once per section that starts nodes. */
async function useBundle(): Promise<void> {
  const b = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "scripts/bundle.ts"] })
    .output();
  if (!b.success) throw new Error("deno task bundle failed");
  await warmBundle("dist/raftq.js");
  Deno.env.set("RAFTQ_BIN_JS", "dist/raftq.js");
}

const command = `deno task bench${Deno.args.length ? " " + Deno.args.join(" ") : ""}`;

console.log(`# raftq benchmarks — ${new Date().toISOString()}`);
console.log(`# command: ${command}`);
console.log(
  `# deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os}/${Deno.build.arch}`,
);

if (!only || only.includes("core")) {
  console.log("\n## Raft core (in memory, 3 nodes, instant delivery, 200-byte commands)");
  console.log("| batch per proposal | committed entries/s | proposals/s |");
  console.log("| ---: | ---: | ---: |");
  for (const batch of [1, 16, 256]) {
    const r = benchCommitThroughput(batch, quick ? 300 : 2000);
    console.log(`| ${batch} | ${fmt(r.entriesPerSecond)} | ${fmt(r.proposalsPerSecond)} |`);
  }
  const e = benchElectionTime(quick ? 50 : 500);
  console.log(
    `\nElection after a leader crash (${e.trials} seeded trials, 3 voters, electionTicks=10, 1-5 ms delays, 10 ms ticks):`,
  );
  console.log(
    `  ticks until a new leader has committed: median ${e.medianTicks}, p99 ${e.p99Ticks}, max ${e.maxTicks}`,
  );
}

if (!only || only.includes("storage")) {
  const { dir, rows } = await benchStorage(quick ? 500 : 3000);
  console.log(
    `\n## Storage (SQLite WAL, synchronous=FULL: every transaction fsynced; ~200-byte entries; files under ${
      dir.replace(/\/[^/]*$/, "")
    })`,
  );
  console.log(
    "| entries per transaction | raftq appends/s | commit p50 ms | commit p99 ms | raw prepared-statement appends/s | raftq/raw |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.batch} | ${fmt(r.entriesPerSecond)} | ${r.commitMedianMs.toFixed(2)} | ${
        r.commitP99Ms.toFixed(2)
      } | ${fmt(r.rawEntriesPerSecond)} | ${
        (r.entriesPerSecond / r.rawEntriesPerSecond).toFixed(2)
      } |`,
    );
  }
  const single = rows.find((r) => r.batch === 1)!;
  for (const r of rows.filter((r) => r.batch > 1)) {
    console.log(
      `batched ${r.batch} / single: ${(r.entriesPerSecond / single.entriesPerSecond).toFixed(1)}x`,
    );
  }
  console.log(
    "\n## Compaction (the snapshot row in a FULL commit, then one-entry writes at synchronous=NORMAL until no covered row is left)",
  );
  console.log(
    "| entries compacted | bytes each | compaction ms | writes that deleted covered rows | longest of them ms | a plain write, p50 ms |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of await benchCompaction(quick)) {
    console.log(
      `| ${fmt(r.entries)} | ${fmt(r.entryBytes)} | ${r.compactMs.toFixed(1)} | ${
        fmt(r.writes)
      } | ${r.longestWriteMs.toFixed(2)} | ${r.plainWriteMs.toFixed(2)} |`,
    );
  }
}

if (!only || only.includes("node")) {
  const r = await benchSingleNode(quick ? 1000 : 5000);
  console.log(
    "\n## Single node over HTTP (one-node cluster, every 201 fsynced first; load generator in this process)",
  );
  console.log("| workload | connections | ok requests/s | p50 ms | p99 ms | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  const row = (name: string, l: typeof r.claimAck) =>
    console.log(
      `| ${name} | ${l.concurrency} | ${fmt(l.perSecond)} | ${l.p50Ms.toFixed(2)} | ${
        l.p99Ms.toFixed(2)
      } | ${l.errors} |`,
    );
  for (const l of r.enqueue) row("enqueue", l);
  row(`batch of 100 (= ${fmt(r.batch.jobsPerSecond)} jobs/s)`, r.batch);
  row("claim + ack pair", r.claimAck);
  for (const g of r.byGroups) row(`claim + ack pair, jobs in ${fmt(g.groups)} groups`, g);
}

const profileSections = {
  "profile": profileWorkloads.enqueue,
  "profile-one": profileWorkloads.enqueueOne,
  "profile-fill": profileWorkloads.fill,
  "profile-claim": profileWorkloads.claimAck,
} as const;
for (const [which, workload] of Object.entries(profileSections)) {
  if (!only?.includes(which as Section)) continue;
  // From source (not the bundle), so each frame names its file. Not part of a full run.
  Deno.env.delete("RAFTQ_BIN_JS");
  const via = values.via === "follower" ? "follower" : "leader";
  const r = await benchProfile(quick ? 2000 : 8000, workload, via, generator);
  const to = via === "leader" ? "the leader" : "the follower (forwarded)";
  const what = workload.describe(to, r.load.perSecond);
  console.log(
    `\n## Where the CPU goes: V8 profiles of the leader and a follower while ${what} during the profile; from source; load: ${r.loadGenerator})`,
  );
  printProfile(r);
  console.log(
    `\nThe profiles (Chrome DevTools, Performance): ${r.dir}/{leader,follower}.cpuprofile`,
  );
}

if (only?.includes("ab")) {
  // Two builds compared, for a change's before and after: not part of a full run.
  const bundles = values.bundles?.split(",") ?? [];
  const rounds = Number(values.rounds ?? 3);
  const via = values.via ?? "leader";
  const load = values.load ?? "enqueue";
  const bodyChars = Number(values["payload-bytes"] ?? defaultBodyChars);
  const connections = (values.connections ?? "1,64,256").split(",").map(Number);
  if (
    connections.some((n) => !Number.isSafeInteger(n) || n < 1 || n > 1024) ||
    bundles.length !== 2 || !Number.isSafeInteger(rounds) || rounds < 1 || rounds > 20 ||
    (via !== "leader" && via !== "follower") || (load !== "enqueue" && load !== "claim-ack") ||
    !Number.isSafeInteger(bodyChars) || bodyChars < 1 || bodyChars > 256 * 1024
  ) {
    console.error(
      `--only ab takes --bundles BEFORE.js,AFTER.js, --rounds 1..20 (default 3), --via leader|follower, --load enqueue|claim-ack, --payload-bytes 1..262144 (default ${defaultBodyChars}) and --connections N[,N...] (1..1024 each, default 1,64,256)`,
    );
    Deno.exit(2);
  }
  const rows = await benchAb(bundles, rounds, {
    rowMs: quick ? 1000 : 4000,
    via,
    load,
    bodyChars,
    connections,
    generator,
  });
  console.log(
    `\n## Two builds back to back: three nodes from each bundle, rounds alternating; ${
      load === "enqueue" ? "enqueues" : "claim+ack pairs (a row's rate is pairs a second)"
    } ${via === "leader" ? "to the leader" : "through a follower"}, payloads with a body of ${
      fmt(bodyChars)
    } characters`,
  );
  console.log(
    "| bundle | round | connections | ok/s | p50 ms | p99 ms | server CPU µs/request | failed |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.bundle} | ${r.round} | ${r.connections} | ${fmt(r.perSecond)} | ${
        r.p50Ms.toFixed(2)
      } | ${r.p99Ms.toFixed(1)} | ${fmt(r.cpuUsPerRequest)} | ${r.errors} |`,
    );
  }
  console.log(
    rows[0]?.loadGenerator === "wrk"
      ? "(load: wrk, two threads (one for one connection); for claim+ack a Lua worker per thread, p50 and p99 of each request)"
      : "(load: the bench's own loop of fetch calls, as every run before 2026-12-06T18:37)",
  );
}

if (!only || only.includes("wan")) {
  await useBundle();
  const rttMs = 50;
  const rows = await benchWan(quick ? 1500 : 5000, rttMs, generator);
  console.log(
    `\n## Three nodes with ${rttMs} ms between every two (a delaying proxy on every peer link), against the same on loopback, one run; enqueues to the leader, each fsynced on a majority first`,
  );
  console.log(
    "| connections | loopback ok/s | p50 ms | p99 ms | WAN ok/s | p50 ms | p99 ms | WAN / loopback | proxy cores |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const cells = (l: LoadResult) =>
      `${fmt(l.perSecond)} | ${l.p50Ms.toFixed(1)} | ${l.p99Ms.toFixed(1)}`;
    console.log(
      `| ${r.conns} | ${cells(r.loopback)} | ${cells(r.wan)} | ${
        (r.wan.perSecond / r.loopback.perSecond).toFixed(2)
      } | ${r.wanProxyCores.toFixed(2)} |`,
    );
  }
  console.log(
    `(nodes run with --heartbeat-ms ${2 * rttMs} --election-ms ${
      20 * rttMs
    }, as the README advises; proxy cores: CPU the delaying proxies took from the two cores the nodes share during the WAN row, which a real WAN takes from no host; load: ${
      rows[0].loadGenerator === "wrk"
        ? "wrk, two threads (one for one connection)"
        : "the bench's own loop of fetch calls, as runs before 2026-12-06T18:06 were driven"
    })`,
  );
}

if (!only || only.includes("cluster")) {
  await useBundle();
  const rows = await benchCluster(quick ? 1500 : 5000, generator);
  console.log(
    "\n## Three-node cluster vs etcd 3.4 (loopback, same load generator, one system at a time; every answer fsynced on a majority first)",
  );
  console.log(
    "| workload | raftq ok/s | raftq p50 ms | raftq p99 ms | raftq errors | etcd ok/s | etcd p50 ms | etcd p99 ms | raftq/etcd throughput | server CPU µs/request, raftq / etcd | each process, busiest first, raftq / etcd | log fsyncs a request, mean ms, raftq / etcd | load |",
  );
  console.log(
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  const byProcess = (m: { processCpuUsPerRequest: number[] }) =>
    m.processCpuUsPerRequest.map(fmt).join(", ");
  const fsyncs = (m: { walFsyncs: { perRequest: number; meanMs: number } }) =>
    `${m.walFsyncs.perRequest.toFixed(2)}, ${m.walFsyncs.meanMs.toFixed(2)}`;
  for (const r of rows) {
    const items = r.itemsPerRequest > 1 ? ` (x${r.itemsPerRequest})` : "";
    console.log(
      `| ${r.workload}${items} | ${fmt(r.raftq.perSecond)} | ${r.raftq.p50Ms.toFixed(2)} | ${
        r.raftq.p99Ms.toFixed(2)
      } | ${r.raftq.errors} | ${fmt(r.etcd.perSecond)} | ${r.etcd.p50Ms.toFixed(2)} | ${
        r.etcd.p99Ms.toFixed(2)
      } | ${(r.raftq.perSecond / r.etcd.perSecond).toFixed(2)} | ${
        fmt(r.raftq.serverCpuUsPerRequest)
      } / ${fmt(r.etcd.serverCpuUsPerRequest)} | ${byProcess(r.raftq)} / ${byProcess(r.etcd)} | ${
        fsyncs(r.raftq)
      } / ${fsyncs(r.etcd)} | ${r.raftq.loadGenerator} |`,
    );
  }
  for (const r of rows) {
    if (!r.rounds) continue;
    const each = (rs: LoadResult[]) =>
      rs.map((x) => `${fmt(x.perSecond)}/s p99 ${x.p99Ms.toFixed(1)}`).join(", ");
    console.log(
      `${r.workload}: ${r.rounds.raftq.length} rounds (fresh clusters, raftq and etcd alternating), each figure's median shown. raftq: ${
        each(r.rounds.raftq)
      }. etcd: ${each(r.rounds.etcd)}.`,
    );
  }
  console.log(
    "(log fsyncs: from each system's own histogram of its log's fdatasync calls, raftq_wal_fsync_seconds and etcd_disk_wal_fsync_duration_seconds, read from the three servers' /metrics before and after the row: fsyncs a request, all three servers together (group commit lowers it as connections rise), and their mean duration from call to completion — the disk's share of each write)",
  );
  printWriteStages(rows);
  const errors = rows.reduce((n, r) => n + r.raftq.errors, 0);
  const etcdErrors = rows.reduce((n, r) => n + r.etcd.errors, 0);
  console.log(`raftq errors during the run: ${errors} (etcd: ${etcdErrors})`);
  console.log(
    "(load: what drove the row for both systems — wrk, two threads (one for one connection), or the bench's own loop of fetch calls (`--generator fetch`, as runs before 2026-12-06T17:00 did; until 2026-12-06T17:58 it drove the two worker rows). Under wrk a worker row's p50 and p99 are of each request, under the fetch loop of a pair; raftq's rate is of jobs acked, etcd's of puts halved)",
  );
}

if (!only || only.includes("worker")) {
  await useBundle();
  const rows = await benchWorker(quick);
  console.log(
    "\n## One Worker (src/client) vs a hand-written claim/ack loop over fetch: no-op handler, three nodes (the bundle)",
  );
  console.log(
    "| concurrency | jobs a round | Worker jobs/s | loop jobs/s | loop/Worker (overhead) |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const w = workerMedian(r.worker);
    const l = workerMedian(r.loop);
    console.log(
      `| ${r.concurrency} | ${fmt(r.jobs)} | ${fmt(w)} | ${fmt(l)} | ${(l / w).toFixed(2)} |`,
    );
  }
  console.log(
    `Medians of ${
      rows[0].worker.length
    } rounds each, Worker and loop alternating on fresh queues. Rounds: ${
      rows.map((r) =>
        `${r.concurrency}: Worker ${r.worker.map(fmt).join("/")}, loop ${r.loop.map(fmt).join("/")}`
      )
        .join("; ")
    }.`,
  );
}

if (!only || only.includes("scale")) {
  await useBundle();
  const r = await benchScale(scaleJobs, generator);
  const mib = (n: number) => `${Math.round(n)} MiB`;
  console.log(
    `\n## Scale: ${
      fmt(r.jobs)
    } jobs on three nodes (the bundle), then a fourth joins while a writer enqueues every 50 ms`,
  );
  console.log("| figure | measured | target |");
  console.log("| --- | ---: | ---: |");
  const rows: [string, string, string][] = [
    [
      `batch fill, 1,000 per batch, 4 connections (${r.fillLoad})`,
      `${fmt(r.fillJobsPerSecond)} jobs/s`,
      "≥ 100,000 jobs/s",
    ],
    [
      "… from when a tenth of it was in (fresh nodes compile their hot paths first)",
      `${fmt(r.warmFillJobsPerSecond)} jobs/s`,
      "reported",
    ],
    ["RSS after the fill (each node)", r.rssAfterFillMiB.map(mib).join(" / "), "≤ 200 MiB"],
    [
      "… highest RSS of each node by then (VmHWM: the fill's peak)",
      r.peakRssAfterFillMiB.map(mib).join(" / "),
      "reported",
    ],
    [
      `RSS ${settleMs / 1000} s later, idle (V8 gave the fill's heap back)`,
      r.rssSettledMiB.map(mib).join(" / "),
      "≤ 200 MiB",
    ],
    [
      "… of which V8's heap (total), after the fill; idle",
      `${r.heapAfterFillMiB.map(mib).join(" / ")}; idle ${r.heapSettledMiB.map(mib).join(" / ")}`,
      "reported",
    ],
    [
      "max RSS of any node during the join",
      `${mib(r.maxRssDuringJoinMiB)} (${r.maxRssNode})`,
      "≤ 200 MiB",
    ],
    ["POST /admin/snapshot (image made on a worker)", `${fmt(r.snapshotMs)} ms`, "—"],
    ["4th node joined and promoted", `${(r.joinMs / 1000).toFixed(1)} s`, "≤ 20 s"],
    [
      "… of which receiving the image / installing it",
      `${(r.joinTransferMs / 1000).toFixed(1)} s / ${(r.joinInstallMs / 1000).toFixed(1)} s`,
      "—",
    ],
    [
      "writer during the join: failed / max / p99",
      `${r.writer.failed} of ${r.writer.writes} / ${fmt(r.writer.maxMs)} ms / ${
        fmt(r.writer.p99Ms)
      } ms`,
      "0 / ≤ 250 ms / ≤ 50 ms",
    ],
    [
      "… writer p99 while the image was received / installed",
      `${fmt(r.writer.p99ReceivingMs)} ms / ${fmt(r.writer.p99InstallingMs)} ms`,
      "—",
    ],
    [
      "longest event-loop hold of any node (a tick fired late): during the fill / the join",
      `≤ ${fmt(r.loopDelay.fill.atMostMs)} ms (${r.loopDelay.fill.node}) / ≤ ${
        fmt(r.loopDelay.join.atMostMs)
      } ms (${r.loopDelay.join.node})`,
      "reported",
    ],
    [
      "claim+ack p99, depth of the queue vs 1,000",
      `${r.claimAckP99Ms.deep.toFixed(1)} ms vs ${r.claimAckP99Ms.shallow.toFixed(1)} ms`,
      "within 2×",
    ],
    [
      "list 100 jobs p99: every state / ready pages by cursor",
      `${r.listP99Ms.anyState.toFixed(1)} ms / ${r.listP99Ms.readyByCursor.toFixed(1)} ms`,
      "reported",
    ],
    [
      `restart of a follower until ready (down while ${fmt(r.catchUp.jobs)} jobs were written)`,
      `${(r.restartReadyMs / 1000).toFixed(1)} s`,
      "≤ 2 s",
    ],
    [
      "… until caught up / longest event-loop hold of any node meanwhile / images it installed",
      `${(r.catchUp.ms / 1000).toFixed(1)} s / ≤ ${
        fmt(r.catchUp.hold.atMostMs)
      } ms (${r.catchUp.hold.node}) / ${r.catchUp.images}`,
      "reported",
    ],
    ["bytes per queued job on disk (leader's data directory)", fmt(r.diskBytesPerJob), "reported"],
    [
      "… of which the queue's tables / the Raft log kept for followers (≤ --log-retain-bytes)",
      `${fmt(r.fileSplit.stateBytesPerJob)} / ${fmt(r.fileSplit.logBytesPerJob)}`,
      "reported",
    ],
  ];
  for (const [a, m, t] of rows) console.log(`| ${a} | ${m} | ${t} |`);
}

/** Where a sampled write's time went on raftq's leader, for the rows that wrote. */
function printWriteStages(rows: ClusterRow[]): void {
  console.log(
    "\n### Where a write's time goes on raftq's leader: ms from a proposal to each stage of its entry (raftq_write_stage_seconds, one entry followed at a time, means over the row)",
  );
  console.log(`| workload | ${writeStages.join(" | ")} | the row's p50 ms |`);
  console.log(`| --- | ${writeStages.map(() => "---:").join(" | ")} | ---: |`);
  for (const r of rows) {
    const stages = r.raftq.writeStagesMs;
    if (!stages) continue;
    const cells = stages.map((ms) => (ms > 0 ? ms.toFixed(2) : "—")).join(" | ");
    console.log(`| ${r.workload} | ${cells} | ${r.raftq.p50Ms.toFixed(2)} |`);
  }
  console.log(
    "(sent: its append left for the followers; written: its write transaction committed; flushed: its fsync here ended; committed: a majority had it durable and its apply began; applied: its apply ended. A leader may apply what its followers made durable before its own flush ends. The row's p50 adds the HTTP edge and the route around the proposal)",
  );
}
