// TLS: the API and the peer links (wss://) of a two-node cluster on a self-signed certificate.

import assert from "node:assert/strict";
import { type NodeProcess, startNode, waitFor } from "../helpers/node_process.ts";
import { makeCertificates } from "../helpers/certificates.ts";

Deno.test("cluster: with --tls-cert/--tls-key the API is https and peers join over wss", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raftq-tls-" });
  const { cert, key, ca } = await makeCertificates(dir);
  const pem = await Deno.readTextFile(ca);
  const client = Deno.createHttpClient({ caCerts: [pem] });
  const get = async (url: string) => {
    const r = await fetch(url, { client });
    return { status: r.status, body: await r.json() };
  };
  const nodes: NodeProcess[] = [];
  try {
    const tls = [
      "--tls-cert",
      cert,
      "--tls-key",
      key,
      "--cluster-secret",
      "tls-test-secret-0123456789",
    ];
    // Nodes trust the test's certificate for their own outbound links (DENO_CERT).
    const env = { DENO_CERT: ca };
    nodes.push(await startNode({ args: ["--id", "t1", ...tls], env }));
    const p1 = nodes[0].port;
    const url1 = `https://127.0.0.1:${p1}`;
    await waitFor(
      "t1 over https",
      async () => (await get(`${url1}/readyz`)).status === 200,
      15_000,
    );
    nodes.push(await startNode({ args: ["--id", "t2", ...tls, "--join", url1], env }));
    await waitFor("t2 to join over wss", async () => {
      const s = await get(`${url1}/admin/status`);
      return s.body.members.length === 2 &&
        s.body.members.every((m: { voter: boolean; reachable: boolean }) => m.voter && m.reachable);
    }, 20_000);
    const s = await get(`${url1}/admin/status`);
    assert.ok(s.body.members.every((m: { url: string }) => m.url.startsWith("https://")));
    const plain = await fetch(`http://127.0.0.1:${p1}/healthz`).then(
      () => "answered",
      () => "refused",
    );
    assert.equal(plain, "refused", "no plain-text HTTP on a TLS node");
  } finally {
    for (const n of nodes) {
      await n.kill();
      await Deno.remove(n.dataDir, { recursive: true }).catch(() => {});
    }
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
