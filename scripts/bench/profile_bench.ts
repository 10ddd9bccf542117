// CPU profiles of a leader and a follower under a load (the headline: 64 connections of enqueues;
// one connection, the fill, claim+ack), taken over the V8 inspector, summarised by where time goes.

import { TestCluster } from "../../tests/helpers/cluster.ts";
import { waitFor } from "../../tests/helpers/node_process.ts";
import { claimableJobs, fill, rowLoadOf } from "./ab_bench.ts";
import { fmt } from "./load.ts";
import {
  generatorFor,
  type LoadGenerator,
  postingLoad,
  rowDurationMs,
  type RowLoad,
  runRow,
} from "./wrk.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's self time belongs, by its script and name. */
const categories: [string, (url: string, fn: string) => boolean][] = [
  ["garbage collection", (_, fn) => fn === "(garbage collector)"],
  ["idle", (_, fn) => fn === "(idle)"],
  ["V8 and native code outside JS", (_, fn) => fn === "(program)"],
  // Deno's socket ops: a write to a loopback peer also runs the receiver's side of TCP and its
  // wake-up in the writer's system call, which is why op_write outweighs the bytes it moves.
  [
    "socket reads and writes (op_write, op_read, native)",
    (url, fn) => url === "" && /^(op_write|op_read|writev|write|op_net_)/.test(fn),
  ],
  [
    "SQLite statements (node:sqlite, native)",
    (url, fn) => url === "" && ["run", "all", "get", "iterate", "exec", "prepare"].includes(fn),
  ],
  ["fsync", (_, fn) => fn === "op_fs_file_sync_data_async"],
  [
    "inspector (the profiler itself)",
    (url, fn) => fn.startsWith("op_inspector") || url.includes("inspector"),
  ],
  ["Raft core (src/raft)", (url) => url.includes("/src/raft/")],
  ["queue state machine (src/queue)", (url) => url.includes("/src/queue/")],
  [
    "storage and Kysely (src/storage, kysely, node:sqlite calls)",
    (url) => url.includes("/src/storage/") || url.includes("kysely"),
  ],
  ["node loop (src/node)", (url) => url.includes("/src/node/")],
  ["HTTP server (src/http)", (url) => url.includes("/src/http/")],
  ["metrics (src/metrics.ts)", (url) => url.endsWith("/src/metrics.ts")],
  [
    "peer transport (src/transport, ws)",
    (url) => url.includes("/src/transport/") || url.includes("/ws/"),
  ],
  [
    "API routes, validation (src/api, hono, zod)",
    (url) => url.includes("/src/api/") || url.includes("hono") || url.includes("zod"),
  ],
  ["superjson", (url) => url.includes("superjson")],
  [
    "node:http and other Node polyfills",
    (url) => url.includes("ext:deno_node") || url.startsWith("node:"),
  ],
  ["Deno runtime (streams, fetch, timers)", (url) => url.startsWith("ext:")],
];

function categoryOf(url: string, fn: string): string {
  return categories.find(([, test]) => test(url, fn))?.[0] ??
    (url === "" ? "other native functions" : "other");
}

/** Self time per category and per function, in milliseconds. */
export function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  profile.samples.forEach((id, k) => {
    const frame = byId.get(id)!;
    const ms = (profile.timeDeltas[k] ?? 0) / 1000;
    const cat = categoryOf(frame.url, frame.functionName);
    cats.set(cat, (cats.get(cat) ?? 0) + ms);
    const name = `${frame.functionName || "(anonymous)"} ${
      frame.url.split("/").slice(-2).join("/")
    }`;
    fns.set(name, (fns.get(name) ?? 0) + ms);
  });
  return { cats, fns };
}

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspector(url: string) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id !== undefined) waiting.get(m.id)?.(m.result);
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };
const fillPayload = { kind: "email", to: "someone@example.com", body: "x".repeat(60) };

/** What the profiled load sends: one request of it, and how many connections send it. */
export interface ProfileWorkload {
  connections: number;
  /** The load on the node at `url`, for wrk and for the fetch loop. */
  load: (url: string) => RowLoad;
  /** Run once against the leader before the warm-up (`durationMs`: the profile's). */
  setUp?: (leaderUrl: string, durationMs: number) => Promise<void>;
  /** The load in words, for the section's title: `to` names the target, `perSecond` its rate. */
  describe: (to: string, perSecond: number) => string;
}

const posting = (path: string, body: unknown) => (url: string): RowLoad =>
  postingLoad(url, path, body);
const fillBody = { jobs: Array.from({ length: 1000 }, () => ({ payload: fillPayload })) };

export const profileWorkloads = {
  enqueue: {
    connections: 64,
    load: posting("/v1/queues/p/jobs", { payload }),
    describe: (to, perSecond) => `64 connections enqueue to ${to} (${fmt(perSecond)} ok/s`,
  },
  enqueueOne: {
    connections: 1,
    load: posting("/v1/queues/p/jobs", { payload }),
    describe: (to, perSecond) => `1 connection enqueues to ${to} (${fmt(perSecond)} ok/s`,
  },
  fill: {
    connections: 4,
    load: posting("/v1/queues/p/batch", fillBody),
    describe: (to, perSecond) =>
      `4 connections send batches of 1,000 to ${to} (${fmt(perSecond * 1000)} jobs/s`,
  },
  claimAck: {
    connections: 64,
    load: (url) => rowLoadOf(url, "claim-ack"),
    setUp: (leaderUrl, durationMs) => fill(leaderUrl, claimableJobs(durationMs)),
    describe: (to, perSecond) =>
      `64 connections claim and ack through ${to} (${fmt(perSecond)} pairs/s`,
  },
} satisfies Record<string, ProfileWorkload>;

/**
 * Profiles the leader and one follower while the workload runs against the leader, or (`via`
 * "follower") against that follower, which forwards each write to the leader.
 */
export async function benchProfile(
  durationMs: number,
  workload: ProfileWorkload,
  via: "leader" | "follower" = "leader",
  generator: LoadGenerator = "wrk",
) {
  const used = await generatorFor(generator);
  Deno.env.set("RAFTQ_TEST_DENO_FLAGS", "--inspect=127.0.0.1:0");
  const cluster = await TestCluster.start(3);
  Deno.env.delete("RAFTQ_TEST_DENO_FLAGS");
  try {
    const leader = await cluster.leader();
    const follower = cluster.live().find((n) => n !== leader)!;
    const wsUrl = (n: typeof leader) =>
      waitFor("its inspector URL", () => {
        const line = n.stderr.find((l) => l.includes("ws://"));
        return line ? /ws:\/\/\S+/.exec(line)![0] : undefined;
      });
    const sessions = [await inspector(await wsUrl(leader)), await inspector(await wsUrl(follower))];
    const target = via === "leader" ? leader : follower;
    await workload.setUp?.(leader.url, rowDurationMs(used, durationMs));
    const rowLoad = workload.load(target.url);
    const run = (ms: number) => runRow(used, rowLoad, workload.connections, ms);
    await run(1500); // warm-up
    for (const s of sessions) {
      await s.send("Profiler.enable");
      await s.send("Profiler.setSamplingInterval", { interval: 100 });
      await s.send("Profiler.start");
    }
    const load = await run(durationMs);
    const profiles = [];
    for (const s of sessions) {
      profiles.push(((await s.send("Profiler.stop")) as { profile: Profile }).profile);
      s.close();
    }
    // The whole profiles too, for Chrome DevTools' Performance panel or a call-tree reading.
    const dir = await Deno.makeTempDir({ prefix: "raftq-profile-" });
    await Deno.writeTextFile(`${dir}/leader.cpuprofile`, JSON.stringify(profiles[0]));
    await Deno.writeTextFile(`${dir}/follower.cpuprofile`, JSON.stringify(profiles[1]));
    const [leaderSummary, followerSummary] = profiles.map(summarise);
    return { load, loadGenerator: used, dir, leader: leaderSummary, follower: followerSummary };
  } finally {
    await cluster.stop();
  }
}

type ProfileSummary = ReturnType<typeof summarise>;

/** Prints the share of each category on the leader and the follower, then each's top functions. */
export function printProfile(r: { leader: ProfileSummary; follower: ProfileSummary }): void {
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const [lt, ft] = [total(r.leader.cats), total(r.follower.cats)];
  const names = [...new Set([...r.leader.cats.keys(), ...r.follower.cats.keys()])]
    .sort((a, b) => (r.leader.cats.get(b) ?? 0) - (r.leader.cats.get(a) ?? 0));
  console.log("| where | leader % | follower % |");
  console.log("| --- | ---: | ---: |");
  const pct = (m: Map<string, number>, k: string, t: number) =>
    ((100 * (m.get(k) ?? 0)) / t).toFixed(1);
  for (const n of names) {
    console.log(`| ${n} | ${pct(r.leader.cats, n, lt)} | ${pct(r.follower.cats, n, ft)} |`);
  }
  for (const [who, s, t] of [["leader", r.leader, lt], ["follower", r.follower, ft]] as const) {
    const top = [...s.fns].filter(([k]) => !k.startsWith("(idle)")).sort((a, b) => b[1] - a[1])
      .slice(0, 12);
    console.log(
      `\nTop self time, ${who}: ` +
        top.map(([k, ms]) => `${k} ${(100 * ms / t).toFixed(1)}%`).join("; "),
    );
  }
}
