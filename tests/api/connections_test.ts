// The HTTP edge under abuse: idle and slow connections, a full house, malformed HTTP, strangers.

import assert from "node:assert/strict";
import { call, type NodeProcess, startReadyNode, waitFor } from "../helpers/node_process.ts";
import { peerProtocol } from "../../src/transport/peer_gate.ts";
import { rawConn as rawConnTo } from "../helpers/raw_conn.ts";

const rawConn = (node: NodeProcess, send?: string) => rawConnTo(node.port, send);

type RawConn = Awaited<ReturnType<typeof rawConn>>;

async function metric(node: NodeProcess, name: string): Promise<number> {
  const text = await fetch(`${node.url}/metrics`).then((r) => r.text());
  const m = new RegExp(`^${name} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

async function withNode(args: string[], fn: (node: NodeProcess) => Promise<void>) {
  const node = await startReadyNode({ args });
  try {
    await fn(node);
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
}

Deno.test("connections: past the cap idle ones make room, a probe is served, idle ones close", () =>
  withNode(["--max-connections", "16"], async (node) => {
    const idle: RawConn[] = [];
    for (let i = 0; i < 40; i++) {
      idle.push(await rawConn(node, i % 2 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n" : undefined));
    }
    try {
      const started = Date.now();
      assert.equal((await call(`${node.url}/healthz`, "GET")).status, 200);
      assert.ok(Date.now() - started < 2_000, "the probe was served at once");
      assert.ok(await metric(node, "raftq_http_connections") <= 16);
      assert.ok(await metric(node, "raftq_http_connections_evicted_total") >= 24);
      // Those still held never finished their headers: they are closed within the bound (10 s).
      await waitFor(
        "every idle connection to be closed",
        () => idle.every((c) => c.closed),
        15_000,
      );
      assert.equal((await call(`${node.url}/healthz`, "GET")).status, 200);
    } finally {
      for (const c of idle) c.close();
    }
  }));

Deno.test("connections: when every connection is busy, a new one gets a clear 503", () =>
  withNode(["--max-connections", "16"], async (node) => {
    const claim = JSON.stringify({ worker: "w", waitMs: 20_000 });
    const longPoll = () =>
      rawConn(
        node,
        `POST /v1/queues/empty/claim HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${claim.length}\r\n\r\n${claim}`,
      );
    const polls: RawConn[] = [];
    for (let i = 0; i < 16; i++) polls.push(await longPoll());
    try {
      // A connection whose request is still arriving counts as idle and may make room for a
      // newer one; replace any poll that did, until all 16 are busy and a newcomer is refused.
      const refused = await waitFor("a refusal past the cap", async () => {
        for (let i = 0; i < polls.length; i++) if (polls[i].closed) polls[i] = await longPoll();
        const extra = await rawConn(
          node,
          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        const text = await extra.received;
        return text.startsWith("HTTP/1.1 503") ? text : false;
      }, 10_000);
      assert.match(refused, /"code":"too_many_connections"/);
      assert.match(refused, /Retry-After: 1/i);
      assert.ok(polls.every((p) => !p.closed), "busy connections are never cut");
      polls.pop()!.close();
      const ok = await waitFor("a slot after one poll ends", async () => {
        const r = await fetch(`${node.url}/healthz`).catch(() => null);
        await r?.body?.cancel();
        return r?.status === 200;
      }, 5_000);
      assert.ok(ok);
    } finally {
      for (const p of polls) p.close();
    }
  }));

Deno.test("connections: malformed HTTP gets a JSON error and a closed connection", () =>
  withNode([], async (node) => {
    const long = await rawConn(node, `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const text = await long.received;
    assert.match(text, /^HTTP\/1\.1 431/);
    assert.match(text, /"code":"invalid_request"/);
    const badLength = await rawConn(
      node,
      "POST /v1/queues/q/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    );
    const bad = await badLength.received;
    assert.match(bad, /^HTTP\/1\.1 400/);
    assert.match(bad, /Malformed HTTP/);
    // A client that goes away mid-body: its business, not an error of the node's.
    const cutShort = await rawConn(
      node,
      'POST /v1/queues/q/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"payload":',
    );
    cutShort.close();
    // Once the node has answered it (to no one), it has logged whatever it would.
    await waitFor("the cut-short request to be answered", async () => {
      const text = await fetch(`${node.url}/metrics`).then((r) => r.text());
      return text.split("\n").some((l) =>
        l.startsWith("raftq_http_requests_total{") &&
        l.includes('route="/v1/queues/:queue/jobs"') &&
        l.includes('status="400"')
      );
    });
    assert.deepEqual(node.stderr.filter((l) => l.includes('"level":"error"')), []);
  }));

Deno.test("strangers on /raft get no socket, little memory and few log lines", () =>
  withNode(["--cluster-secret", "peer-test-secret-0123456789"], async (node) => {
    // An upgrade without a ticket is an HTTP error: no WebSocket ever opens.
    const upgrade = await rawConn(
      node,
      "GET /raft HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert.match(await upgrade.received, /^HTTP\/1\.1 401[^]*"code":"unauthorized"/);
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/raft`, {
      headers: { "x-raftq-ticket": "forged" },
    });
    const outcome = await new Promise((resolve) => {
      ws.onopen = () => resolve("opened");
      ws.onerror = () => resolve("refused");
    });
    assert.equal(outcome, "refused");
    // A hello is read only up to 4 KiB.
    const big = await call(`${node.url}/raft/hello`, "POST", { junk: "x".repeat(1 << 20) });
    assert.equal(big.status, 413);
    // Proofs that fail: refused with a reason, logged a few times only.
    for (let i = 0; i < 60; i++) {
      const c = (await call(`${node.url}/raft/challenge`, "GET")).body;
      const r = await call(`${node.url}/raft/hello`, "POST", {
        v: peerProtocol,
        clusterId: c.clusterId,
        nodeId: `x${i}`,
        nonce: "ab".repeat(32),
        challenge: c.nonce,
        mac: "00".repeat(32),
      });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.message, "wrong cluster secret");
    }
    // A node of another peer protocol (an older raftq) is refused in words.
    const old = (await call(`${node.url}/raft/challenge`, "GET")).body;
    const oldHello = await call(`${node.url}/raft/hello`, "POST", {
      v: peerProtocol - 1,
      clusterId: old.clusterId,
      nodeId: "old",
      nonce: "ab".repeat(32),
      challenge: old.nonce,
      mac: "00".repeat(32),
    });
    assert.equal(oldHello.status, 403);
    assert.match(
      oldHello.body.error.message,
      new RegExp(`peer protocol ${peerProtocol}, the dialer ${peerProtocol - 1}`),
    );
    const lines = node.stderr.filter((l) => l.includes('"peer_refused"'));
    assert.ok(lines.length >= 1 && lines.length <= 12, `${lines.length} refusal lines`);
    assert.equal((await call(`${node.url}/healthz`, "GET")).status, 200);
    assert.equal(await metric(node, "raftq_peer_refused_total") >= 61, true);
  }));
