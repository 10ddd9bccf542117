// Clusters of real raftq processes on loopback for tests: start, join, find the leader, kill.

import {
  call,
  freePort,
  lostPortRace,
  type NodeProcess,
  startNode,
  startReadyNode,
  waitFor,
} from "./node_process.ts";

export interface ClusterNode extends NodeProcess {
  id: string;
}

export class TestCluster {
  nodes: ClusterNode[] = [];
  readonly secret: string;
  /** Flags every node gets (for example --token). */
  readonly extraArgs: string[];

  constructor(secret = "test-cluster-secret-0123456789", extraArgs: string[] = []) {
    this.secret = secret;
    this.extraArgs = extraArgs;
  }

  #args(id: string, extra: string[] = []): string[] {
    return ["--id", id, "--cluster-secret", this.secret, ...this.extraArgs, ...extra];
  }

  /** Bootstraps the first node, then joins the others one by one through it. */
  static async start(
    size: number,
    secret?: string,
    extraArgs: string[] = [],
  ): Promise<TestCluster> {
    const c = new TestCluster(secret, extraArgs);
    try {
      const token = extraArgs[extraArgs.indexOf("--token") + 1];
      const first = await startReadyNode({
        args: c.#args("n1"),
        env: extraArgs.includes("--token") ? { RAFTQ_TOKEN: token } : {},
      });
      c.nodes.push(Object.assign(first, { id: "n1" }));
      for (let k = 2; k <= size; k++) await c.join(`n${k}`);
      await c.waitForVoters(size);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  async join(
    id: string,
    options: { secret?: string; dataDir?: string; env?: Record<string, string> } = {},
  ): Promise<ClusterNode> {
    const via = this.nodes.filter((n) => n.child).map((n) => n.url).join(",");
    const node = await startNode({
      dataDir: options.dataDir,
      env: options.env,
      args: [
        "--id",
        id,
        "--cluster-secret",
        options.secret ?? this.secret,
        ...this.extraArgs,
        "--join",
        via,
      ],
    });
    const member: ClusterNode = Object.assign(node, { id });
    this.nodes.push(member);
    return member;
  }

  node(id: string): ClusterNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Status of a node, or null when it does not answer. */
  // deno-lint-ignore no-explicit-any
  async status(n: ClusterNode): Promise<any | null> {
    try {
      const i = this.extraArgs.indexOf("--token");
      const auth: Record<string, string> = i >= 0
        ? { authorization: `Bearer ${this.extraArgs[i + 1]}` }
        : {};
      const r = await call(`${n.url}/admin/status`, "GET", undefined, auth);
      return r.status === 200 ? r.body : null;
    } catch {
      return null;
    }
  }

  /** Waits until the live nodes agree on one leader among them; returns it. */
  async leader(among: ClusterNode[] = this.live(), timeoutMs = 10_000): Promise<ClusterNode> {
    return await waitFor("a leader", async () => {
      const statuses = await Promise.all(among.map((n) => this.status(n)));
      const leaders = statuses.filter((s) => s?.role === "leader");
      if (leaders.length !== 1) return false;
      const id = leaders[0].id;
      const agree = statuses.filter((s) => s?.leader?.id === id).length;
      return agree > among.length / 2 ? among.find((n) => n.id === id) : false;
    }, timeoutMs);
  }

  async waitForVoters(count: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(`${count} voters`, async () => {
      const leader = await this.leader();
      const s = await this.status(leader);
      return s?.members.filter((m: { voter: boolean }) => m.voter).length === count;
    }, timeoutMs);
  }

  /** Waits until every live node has applied the same index; returns it. */
  async converged(timeoutMs = 15_000): Promise<number> {
    return await waitFor("replicas to converge", async () => {
      const s = await Promise.all(this.live().map((n) => this.status(n)));
      if (s.some((x) => x === null)) return false;
      const applied = new Set(s.map((x) => x.appliedIndex));
      return applied.size === 1 ? [...applied][0] as number : false;
    }, timeoutMs);
  }

  live(): ClusterNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  async kill(n: ClusterNode, signal: Deno.Signal = "SIGKILL"): Promise<void> {
    await n.kill(signal);
  }

  /**
   * Restarts a killed node from its data directory, on the same port (its peers know it by its
   * URL); again while another process holds that port for a moment (an outgoing connection of a
   * parallel test may draw it as its ephemeral port once the node has let it go).
   */
  async restart(n: ClusterNode): Promise<ClusterNode> {
    const options = { dataDir: n.dataDir, port: n.port, args: this.#args(n.id) };
    let fresh = await startNode(options);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && await lostPortRace(fresh)) {
      await new Promise((r) => setTimeout(r, 100)); // (paced retries of the bind; no state waited on)
      fresh = await startNode(options);
    }
    const member: ClusterNode = Object.assign(fresh, { id: n.id });
    this.nodes = this.nodes.map((x) => (x === n ? member : x));
    return member;
  }

  /** The last log lines of every node, for a failing test's message. */
  dump(lines = 8): string {
    return this.nodes.map((n) =>
      `--- ${n.id} (${n.alive ? "running" : "exited"})\n${n.stderr.slice(-lines).join("\n")}`
    ).join("\n");
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    for (const n of this.nodes) await Deno.remove(n.dataDir, { recursive: true }).catch(() => {});
  }
}

export { call, freePort, waitFor };

/**
 * A node's raftq_event_loop_delay_seconds buckets: ticks at most so late, by bound in ms (the
 * +Inf bucket, at Infinity, counts every tick the node has timed).
 */
export async function loopDelayCounts(n: { url: string }): Promise<Map<number, number>> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  const counts = new Map<number, number>();
  const bucket = /^raftq_event_loop_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm;
  for (const [, le, count] of text.matchAll(bucket)) {
    counts.set(le === "+Inf" ? Infinity : Number(le) * 1000, Number(count));
  }
  return counts;
}
