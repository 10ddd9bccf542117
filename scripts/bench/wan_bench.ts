// Three raftq nodes whose every peer link crosses a delaying proxy (a WAN on loopback), against
// the same three nodes on plain loopback, in one run: enqueues at 1, 64, 256 and 512 connections
// (512: whether the WAN carries more once more requests are in flight, i.e. whether it pipelines).

import { call, type NodeProcess, startNode, waitFor } from "../../tests/helpers/node_process.ts";
import type { LoadResult } from "./load.ts";
import { withCpu } from "./proc_cpu.ts";
import { generatorFor, type LoadGenerator, postingLoad, runRow } from "./wrk.ts";

const secret = "wan-bench-secret-0123456789";
const ids = ["n1", "n2", "n3"];
const payload = { kind: "email", to: "someone@example.com", body: "x".repeat(160) };

export interface WanRow {
  conns: number;
  loopback: LoadResult;
  wan: LoadResult;
  /**
   * Cores the delaying proxies used during the WAN row: CPU a real WAN takes from no host, taken
   * here from the two cores the nodes and the load generator share.
   */
  wanProxyCores: number;
  loadGenerator: LoadGenerator;
}

/**
 * The delaying proxies, in a process of their own (so their timers do not wait on the load
 * generator's event loop): `count` of them, each aimed at its target by `aim` once that listens.
 */
async function startProxies(oneWayMs: number, count: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./delay_proxy.ts", import.meta.url).pathname,
      "--delay",
      String(oneWayMs),
      "--count",
      String(count),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the proxy process ended before it listened");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const ports = JSON.parse(text.split("\n")[0]) as number[];
  const aims = child.stdin.getWriter();
  const aim = (k: number, port: number) => aims.write(new TextEncoder().encode(`${k} ${port}\n`));
  const stop = async () => {
    await aims.close().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    await child.status;
  };
  return { ports, aim, stop, pid: child.pid };
}

/** A cluster whose node a reaches node b through its own proxy, each way `oneWayMs` late. */
async function startCluster(oneWayMs: number, timingArgs: string[]) {
  const pairs = ids.flatMap((a) => ids.filter((b) => b !== a).map((b) => [a, b]));
  const proxies = oneWayMs === 0 ? null : await startProxies(oneWayMs, pairs.length);
  const urls: Record<string, Record<string, string>> = Object.fromEntries(ids.map((a) => [a, {}]));
  pairs.forEach(([a, b], k) => {
    if (proxies) urls[a][b] = `http://127.0.0.1:${proxies.ports[k]}`;
  });
  const nodes: NodeProcess[] = [];
  const stop = async () => {
    for (const n of nodes) await n.kill("SIGKILL").catch(() => {});
    await proxies?.stop();
    for (const n of nodes) await Deno.remove(n.dataDir, { recursive: true }).catch(() => {});
  };
  try {
    for (const id of ids) {
      const join = id === "n1" ? [] : ["--join", nodes[0].url];
      nodes.push(
        await startNode({
          args: ["--id", id, "--cluster-secret", secret, ...timingArgs, ...join],
          env: { RAFTQ_TEST_PEER_URLS: JSON.stringify(urls[id]) },
        }),
      );
      // (each node picks its port as it starts: one picked ahead could be taken meanwhile)
      for (const [k, [, b]] of pairs.entries()) {
        if (b === id) await proxies?.aim(k, nodes.at(-1)!.port);
      }
      if (id === "n1") {
        await waitFor("n1 to lead", async () => (await leaderOf(nodes[0])) === "n1", 30_000);
      }
    }
    await waitFor("3 voters", async () => (await voters(nodes[0])) === 3, 60_000);
    return { leader: nodes[0].url, stop, proxyPid: proxies?.pid };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function leaderOf(n: NodeProcess): Promise<string | null> {
  const r = await call(`${n.url}/admin/status`, "GET").catch(() => null);
  return r?.status === 200 ? r.body.leader?.id ?? null : null;
}

async function voters(n: NodeProcess): Promise<number> {
  const r = await call(`${n.url}/admin/status`, "GET").catch(() => null);
  return r?.status === 200 ? r.body.members.filter((m: { voter: boolean }) => m.voter).length : 0;
}

/** Each row's load, with the cores `pids` used meanwhile. */
async function rows(
  leader: string,
  durationMs: number,
  pids: number[],
  generator: LoadGenerator,
): Promise<Map<number, { load: LoadResult; cores: number }>> {
  const out = new Map<number, { load: LoadResult; cores: number }>();
  const enqueue = postingLoad(leader, "/v1/queues/wan/jobs", { payload });
  const run = (conns: number, ms: number) => runRow(generator, enqueue, conns, ms);
  await run(64, 1500); // warm-up: JIT, connections
  for (const conns of [1, 64, 256, 512]) {
    const startedMs = performance.now();
    const { result, cpuMs } = await withCpu(pids, () => run(conns, durationMs));
    out.set(conns, { load: result, cores: cpuMs / (performance.now() - startedMs) });
  }
  return out;
}

/** The same rows on loopback and across `rttMs` between every two nodes, one cluster at a time. */
export async function benchWan(
  durationMs: number,
  rttMs: number,
  generator: LoadGenerator = "wrk",
): Promise<WanRow[]> {
  const used = await generatorFor(generator);
  // Heartbeat above the round trip, election timeout ten heartbeats: the README's advice.
  const timing = [
    "--heartbeat-ms",
    String(Math.max(50, 2 * rttMs)),
    "--election-ms",
    String(Math.max(500, 20 * rttMs)),
  ];
  const results: Map<number, { load: LoadResult; cores: number }>[] = [];
  for (const oneWayMs of [0, rttMs / 2]) {
    const cluster = await startCluster(oneWayMs, timing);
    try {
      const pids = cluster.proxyPid === undefined ? [] : [cluster.proxyPid];
      results.push(await rows(cluster.leader, durationMs, pids, used));
    } finally {
      await cluster.stop();
    }
  }
  return [1, 64, 256, 512].map((conns) => ({
    conns,
    loopback: results[0].get(conns)!.load,
    wan: results[1].get(conns)!.load,
    wanProxyCores: results[1].get(conns)!.cores,
    loadGenerator: used,
  }));
}
