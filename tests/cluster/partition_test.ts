// Partitions made by TCP proxies on every peer link: check-quorum, pre-vote, and convergence.

import assert from "node:assert/strict";
import { call, type NodeProcess, startNode, waitFor } from "../helpers/node_process.ts";
import { TcpProxy } from "../helpers/proxy.ts";

const secret = "partition-test-secret-0123456789";
const ids = ["n1", "n2", "n3"];

// deno-lint-ignore no-explicit-any
async function status(n: NodeProcess): Promise<any | null> {
  try {
    const r = await call(`${n.url}/admin/status`, "GET");
    return r.status === 200 ? r.body : null;
  } catch {
    return null;
  }
}

Deno.test("cluster: an isolated leader stops acknowledging, the majority moves on, healing converges without disruption", async () => {
  const nodes: Record<string, NodeProcess> = {};
  // One proxy per ordered pair: node a reaches node b only through proxies[a][b]. Each proxy learns
  // its target's port once that node listens (a port picked ahead could be taken meanwhile).
  const proxies: Record<string, Record<string, TcpProxy>> = {};
  for (const a of ids) {
    proxies[a] = {};
    for (const b of ids) if (a !== b) proxies[a][b] = new TcpProxy(0);
  }
  const aim = (b: string) => {
    for (const a of ids) if (a !== b) proxies[a][b].targetPort = nodes[b].port;
  };
  const env = (a: string) => ({
    RAFTQ_TEST_PEER_URLS: JSON.stringify(
      Object.fromEntries(ids.filter((b) => b !== a).map((b) => [b, proxies[a][b].url])),
    ),
  });
  try {
    nodes.n1 = await startNode({
      args: ["--id", "n1", "--cluster-secret", secret],
      env: env("n1"),
    });
    aim("n1");
    await waitFor("n1 to lead", async () => (await status(nodes.n1))?.role === "leader");
    for (const id of ["n2", "n3"]) {
      nodes[id] = await startNode({
        args: ["--id", id, "--cluster-secret", secret, "--join", nodes.n1.url],
        env: env(id),
      });
      aim(id);
    }
    await waitFor(
      "3 voters",
      async () =>
        (await status(nodes.n1))?.members.filter((m: { voter: boolean }) => m.voter).length === 3,
      30_000,
    );
    for (let i = 0; i < 10; i++) {
      assert.equal(
        (await call(`${nodes.n1.url}/v1/queues/p/jobs`, "POST", { payload: i })).status,
        201,
      );
    }
    // Cut the leader n1 off from both peers, in both directions.
    for (const b of ["n2", "n3"]) {
      proxies.n1[b].cut();
      proxies[b].n1.cut();
    }
    const cutAt = Date.now();
    // The majority elects a new leader.
    const next = await waitFor("a new leader among n2, n3", async () => {
      const s = await Promise.all(["n2", "n3"].map((id) => status(nodes[id])));
      const l = s.find((x) => x?.role === "leader");
      return l && s.every((x) => x?.leader?.id === l.id) ? l : false;
    }, 10_000);
    const newLeader = nodes[next.id];
    assert.ok(Date.now() - cutAt < 5_000);
    // The isolated old leader steps down (check-quorum) and never acknowledges a write.
    await waitFor(
      "n1 to step down",
      async () => (await status(nodes.n1))?.role !== "leader",
      5_000,
    );
    for (let i = 0; i < 5; i++) {
      const r = await call(`${nodes.n1.url}/v1/queues/p/jobs`, "POST", { payload: "isolated" });
      assert.equal(r.status, 503, `isolated node answered ${r.status}`);
    }
    // Writes continue on the majority side.
    for (let i = 0; i < 10; i++) {
      assert.equal(
        (await call(`${newLeader.url}/v1/queues/p/jobs`, "POST", { payload: `m${i}` })).status,
        201,
      );
    }
    const termBefore = (await status(newLeader)).term;
    const n1Term = (await status(nodes.n1)).term;
    assert.ok(n1Term <= termBefore, "pre-vote kept the isolated node from raising its term");
    // Heal: the old leader rejoins as a follower without forcing an election.
    for (const b of ["n2", "n3"]) {
      proxies.n1[b].heal();
      proxies[b].n1.heal();
    }
    await waitFor("logs to converge", async () => {
      const s = await Promise.all(ids.map((id) => status(nodes[id])));
      return s.every((x) => x && x.appliedIndex === s[0].appliedIndex && x.leader?.id === next.id);
    }, 15_000);
    const after = await status(newLeader);
    assert.equal(after.role, "leader");
    assert.equal(after.term, termBefore, "the rejoining node did not disrupt the leader");
    const depth = await call(`${nodes.n1.url}/v1/queues?consistency=local`, "GET");
    assert.equal(depth.body.queues[0].ready, 20, "the healed node holds every acknowledged write");
  } catch (err) {
    const logs = Object.entries(nodes).map(([id, n]) =>
      `--- ${id}\n${n.stderr.slice(-15).join("\n")}`
    );
    throw new Error(`${(err as Error).message}\n${logs.join("\n")}`);
  } finally {
    for (const n of Object.values(nodes)) {
      await n.kill();
      await Deno.remove(n.dataDir, { recursive: true }).catch(() => {});
    }
    for (const a of ids) for (const p of Object.values(proxies[a] ?? {})) p.close();
  }
});
