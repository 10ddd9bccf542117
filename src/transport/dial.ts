// The dialing side of the peer handshake: challenge, hello, then the WebSocket with its ticket.

import { newNonce, sign, transcript, verify } from "./handshake.ts";
import { type Challenge, peerProtocol, type Welcome } from "./peer_gate.ts";

/** Header carrying the one-time ticket on the upgrade request. */
export const ticketHeader = "x-raftq-ticket";

/** A link that cannot be made with this peer as things are (wrong cluster, wrong secret). */
export class DialRefused extends Error {
  /** True when the peer refused us; false when we refused what it said it was. */
  constructor(message: string, readonly byPeer: boolean) {
    super(message);
  }
}

export interface DialOptions {
  selfId: string;
  clusterId: string;
  key: Promise<CryptoKey>;
  timeoutMs: number;
}

export function peerSocketUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, "ws").replace(/\/+$/, "") + "/raft";
}

async function postJson(url: string, body: unknown, timeoutMs: number): Promise<Response> {
  return await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

async function challengeOf(peer: { id: string; url: string }, o: DialOptions): Promise<Challenge> {
  const res = await postJson(`${peer.url}/raft/challenge`, undefined, o.timeoutMs);
  const c = await res.json().catch(() => null) as Challenge | null;
  if (res.ok && typeof c?.v === "number" && c.v !== peerProtocol) {
    throw new DialRefused(
      `${peer.url} speaks peer protocol ${c.v}, this node ${peerProtocol}: run one raftq version across the cluster`,
      false,
    );
  }
  if (
    !res.ok || c?.v !== peerProtocol || typeof c.nonce !== "string" || typeof c.nodeId !== "string"
  ) {
    throw new Error(`${peer.url} gave no peer challenge (HTTP ${res.status})`);
  }
  if (c.clusterId !== null && c.clusterId !== o.clusterId) {
    throw new DialRefused(`peer belongs to cluster ${c.clusterId}, not ${o.clusterId}`, false);
  }
  if (c.nodeId !== peer.id) {
    throw new DialRefused(`expected node ${peer.id}, found ${c.nodeId.slice(0, 64)}`, false);
  }
  return c;
}

/** Proves the secret to the peer and checks its proof back; returns its ticket. */
async function hello(peer: { id: string; url: string }, o: DialOptions): Promise<string> {
  const challenge = await challengeOf(peer, o);
  const key = await o.key;
  const nonce = newNonce();
  const mac = await sign(
    key,
    transcript("client", o.clusterId, o.selfId, peer.id, nonce, challenge.nonce),
  );
  const res = await postJson(`${peer.url}/raft/hello`, {
    v: peerProtocol,
    clusterId: o.clusterId,
    nodeId: o.selfId,
    nonce,
    challenge: challenge.nonce,
    mac,
  }, o.timeoutMs);
  const body = await res.json().catch(() => null);
  if (res.status === 403) {
    throw new DialRefused(String(body?.error?.message ?? "refused").slice(0, 300), true);
  }
  const w = body as Welcome | null;
  if (!res.ok || typeof w?.ticket !== "string" || typeof w.mac !== "string") {
    throw new Error(`${peer.url} did not answer the hello (HTTP ${res.status})`);
  }
  const proof = transcript("server", o.clusterId, peer.id, o.selfId, challenge.nonce, nonce);
  if (!(await verify(key, proof, w.mac))) {
    throw new DialRefused("the peer could not prove the cluster secret", false);
  }
  return w.ticket;
}

/**
 * Opens an authenticated link to `peer`: both sides have proven the cluster secret over HTTP
 * before the WebSocket exists, so no frame ever crosses an unauthenticated socket.
 */
export async function dialPeer(
  peer: { id: string; url: string },
  o: DialOptions,
): Promise<WebSocket> {
  const ticket = await hello(peer, o);
  const ws = new WebSocket(peerSocketUrl(peer.url), { headers: { [ticketHeader]: ticket } });
  ws.binaryType = "arraybuffer"; // Raft frames are binary (not Blobs, which need a read)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error("the WebSocket did not open in time"));
    }, o.timeoutMs);
    ws.addEventListener("open", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error("the WebSocket upgrade failed"));
    }, { once: true });
  });
  return ws;
}
