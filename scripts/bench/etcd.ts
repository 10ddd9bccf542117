// A three-member etcd cluster on loopback for comparison (Debian's etcd-server), and its PUT load.

import { freePort, waitFor } from "../../tests/helpers/node_process.ts";
import { aptInstall, fileExists } from "../debian.ts";

export interface EtcdCluster {
  clientUrls: string[];
  /** The members' process ids (for their CPU time). */
  pids: number[];
  leaderUrl: string;
  followerUrl: string;
  stop(): Promise<void>;
}

/** Installs etcd-server from Debian's packages when /usr/bin/etcd is missing. */
export async function ensureEtcd(): Promise<string> {
  const bin = "/usr/bin/etcd";
  if (await fileExists(bin)) return bin;
  console.error("bench: installing etcd-server from Debian's packages (apt-get)");
  const failed = await aptInstall(["etcd-server"]);
  if (failed) throw new Error(`${failed} failed`);
  return bin;
}

export async function startEtcd(): Promise<EtcdCluster> {
  const bin = await ensureEtcd();
  const root = await Deno.makeTempDir({ prefix: "raftq-bench-etcd-" });
  const members = [1, 2, 3].map((k) => ({ name: `e${k}`, client: freePort(), peer: freePort() }));
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const children = members.map((m) =>
    new Deno.Command(bin, {
      args: [
        "--name",
        m.name,
        "--data-dir",
        `${root}/${m.name}`,
        "--listen-client-urls",
        `http://127.0.0.1:${m.client}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${m.client}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${m.peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${m.peer}`,
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        "raftq-bench",
        "--log-level",
        "error",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  const stop = async () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch {
        // gone
      }
      await c.status;
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  try {
    const clientUrls = members.map((m) => `http://127.0.0.1:${m.client}`);
    const leaderId = await waitFor("etcd to elect a leader", async () => {
      const r = await fetch(`${clientUrls[0]}/v3/maintenance/status`, {
        method: "POST",
        body: "{}",
      });
      const s = await r.json();
      return s.leader && s.leader !== "0" ? String(s.leader) : false;
    }, 20_000);
    let leaderUrl = clientUrls[0];
    let followerUrl = clientUrls[1];
    for (const url of clientUrls) {
      const s = await (await fetch(`${url}/v3/maintenance/status`, { method: "POST", body: "{}" }))
        .json();
      if (String(s.header.member_id) === leaderId) leaderUrl = url;
    }
    followerUrl = clientUrls.find((u) => u !== leaderUrl)!;
    return { clientUrls, pids: children.map((c) => c.pid), leaderUrl, followerUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The value every PUT writes: 200 bytes, base64 as etcd's JSON gateway takes it. */
export const etcdValue = new TextEncoder().encode("v".repeat(200)).toBase64();

/** One etcd PUT of a ~200-byte value through its HTTP gateway; true on success. */
export async function etcdPut(url: string, key: string): Promise<boolean> {
  const res = await fetch(`${url}/v3/kv/put`, {
    method: "POST",
    body: JSON.stringify({ key: new TextEncoder().encode(key).toBase64(), value: etcdValue }),
  });
  await res.body?.cancel();
  return res.ok;
}

/** A linearizable GET of one key (etcd's default for a range request). */
export async function etcdGet(url: string, key: string): Promise<boolean> {
  const res = await fetch(`${url}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: new TextEncoder().encode(key).toBase64() }),
  });
  await res.body?.cancel();
  return res.ok;
}

/** One etcd transaction of `count` PUTs (the batch analogue). */
export async function etcdTxn(url: string, prefix: string, count: number): Promise<boolean> {
  const success = Array.from({ length: count }, (_, i) => ({
    requestPut: { key: new TextEncoder().encode(`${prefix}/${i}`).toBase64(), value: etcdValue },
  }));
  const res = await fetch(`${url}/v3/kv/txn`, {
    method: "POST",
    body: JSON.stringify({ success }),
  });
  await res.body?.cancel();
  return res.ok;
}
