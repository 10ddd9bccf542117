// The accepting side of the peer handshake: challenges, hello checks, one-time upgrade tickets.

import { newNonce, sign, transcript, verify } from "./handshake.ts";

/**
 * The peer protocol: nodes link only with nodes that speak the same one, so a cluster never mixes
 * versions that read the log differently. 2: entries may merge workers' commands (`merged`),
 * which a node of protocol 1 cannot decode and would skip. 3: a change of groupConcurrency sets
 * the groups again over several entries, and a claim sets aside a group active under the old cap
 * (a node of protocol 2 would lease other jobs from the same entries). 4: a `merged` entry may
 * hold schedules' firings, which a node of protocol 3 finds invalid. 5: an enqueue of default jobs
 * is logged as their payloads alone (command version 3), which a node of protocol 4 cannot read.
 */
export const peerProtocol = 5;

/** `GET /raft/challenge`: who this node is, and a nonce the dialer must sign. */
export interface Challenge {
  v: typeof peerProtocol;
  clusterId: string | null;
  nodeId: string;
  nonce: string;
}

/** `POST /raft/hello`: the dialer's proof that it holds the cluster secret. */
export interface Hello {
  v: typeof peerProtocol;
  clusterId: string;
  nodeId: string;
  /** The dialer's own nonce. */
  nonce: string;
  /** The nonce of this node's challenge, signed back. */
  challenge: string;
  mac: string;
}

/** The answer to a good hello: a ticket for one WebSocket upgrade, and this node's own proof. */
export interface Welcome {
  ticket: string;
  mac: string;
}

export const gateTuning = {
  /** A challenge must be answered within this. */
  challengeTtlMs: 10_000,
  /** A ticket must be used within this. */
  ticketTtlMs: 10_000,
  /** Tickets and used challenges held at most (only authenticated peers add to either). */
  maxHeld: 256,
};

export interface GateOptions {
  selfId: string;
  key: Promise<CryptoKey>;
  clusterId(): string | null;
  /** A joining node adopts the first authenticated cluster id it meets; false refuses it. */
  adoptClusterId(id: string): boolean;
  /** A monotonic clock in milliseconds (performance.now in production). */
  nowMs(): number;
}

export type Admission =
  | { ok: true; peerId: string; welcome: Welcome }
  | { ok: false; reason: string };

const isStr = (v: unknown, max = 256): v is string =>
  typeof v === "string" && v.length > 0 && v.length <= max;

/**
 * Why a body that is not a hello of this protocol was sent by a peer of another one, or null: the
 * refusal a node of another version gets, in words.
 */
export function otherProtocol(v: unknown): string | null {
  const version = typeof v === "object" && v !== null ? (v as { v?: unknown }).v : undefined;
  if (!Number.isSafeInteger(version) || version === peerProtocol) return null;
  return `this node speaks peer protocol ${peerProtocol}, the dialer ${version}: run one raftq version across the cluster`;
}

/** A hello's fields, or null when it is not one. */
export function parseHello(v: unknown): Hello | null {
  if (typeof v !== "object" || v === null) return null;
  const h = v as Record<string, unknown>;
  return h.v === peerProtocol && isStr(h.clusterId) && isStr(h.nodeId, 64) && isStr(h.nonce, 128) &&
      isStr(h.challenge, 256) && isStr(h.mac, 128)
    ? {
      v: peerProtocol,
      clusterId: h.clusterId,
      nodeId: h.nodeId,
      nonce: h.nonce,
      challenge: h.challenge,
      mac: h.mac,
    }
    : null;
}

/**
 * Admits peers before they get a socket: a stranger can ask for a challenge (stateless: the nonce
 * carries its own time and a tag under a key of this process) and send a hello of a few hundred
 * bytes, but only a dialer that proves the cluster secret gets a ticket, and only a ticket opens a
 * WebSocket. Nothing a stranger sends is held in memory.
 */
export class PeerGate {
  readonly #o: GateOptions;
  readonly #tagKey = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  /** Challenges already answered (each admits once), until they expire. */
  readonly #used = new Map<string, number>();
  readonly #tickets = new Map<string, { peerId: string; expiresMs: number }>();

  constructor(options: GateOptions) {
    this.#o = options;
  }

  async challenge(): Promise<Challenge> {
    const body = `${newNonce()}.${Math.floor(this.#o.nowMs())}`;
    const tag = await sign(await this.#tagKey, body);
    return {
      v: peerProtocol,
      clusterId: this.#o.clusterId(),
      nodeId: this.#o.selfId,
      nonce: `${body}.${tag}`,
    };
  }

  /** Checks a hello; a good one gets a ticket and this node's proof of the secret. */
  async admit(hello: Hello): Promise<Admission> {
    this.#expire();
    if (!(await this.#fresh(hello.challenge))) {
      return { ok: false, reason: "the challenge is unknown, expired or already used" };
    }
    const key = await this.#o.key;
    const self = this.#o.selfId;
    const signed = transcript(
      "client",
      hello.clusterId,
      hello.nodeId,
      self,
      hello.nonce,
      hello.challenge,
    );
    if (!(await verify(key, signed, hello.mac))) {
      return { ok: false, reason: "wrong cluster secret" };
    }
    const mine = this.#o.clusterId();
    if (mine === null ? !this.#o.adoptClusterId(hello.clusterId) : mine !== hello.clusterId) {
      return { ok: false, reason: `this node belongs to cluster ${mine}, not ${hello.clusterId}` };
    }
    if (hello.nodeId === self) return { ok: false, reason: "a node cannot peer with itself" };
    if (this.#used.size >= gateTuning.maxHeld || this.#tickets.size >= gateTuning.maxHeld) {
      return { ok: false, reason: "too many handshakes at once; retry" };
    }
    const expiresMs = this.#o.nowMs() + gateTuning.ticketTtlMs;
    this.#used.set(hello.challenge, expiresMs);
    const ticket = newNonce();
    this.#tickets.set(ticket, { peerId: hello.nodeId, expiresMs });
    const proof = transcript(
      "server",
      hello.clusterId,
      self,
      hello.nodeId,
      hello.challenge,
      hello.nonce,
    );
    return { ok: true, peerId: hello.nodeId, welcome: { ticket, mac: await sign(key, proof) } };
  }

  /** Uses up a ticket; returns the peer it was issued to, or null. */
  takeTicket(ticket: string | null | undefined): string | null {
    if (!ticket) return null;
    const t = this.#tickets.get(ticket);
    this.#tickets.delete(ticket);
    return t && t.expiresMs > this.#o.nowMs() ? t.peerId : null;
  }

  /** Whether `nonce` is a challenge of this process, recent, and not answered before. */
  async #fresh(nonce: string): Promise<boolean> {
    const m = /^([0-9a-f]{64})\.(\d{1,16})\.([0-9a-f]{64})$/.exec(nonce);
    if (!m || this.#used.has(nonce)) return false;
    const age = this.#o.nowMs() - Number(m[2]);
    if (age < 0 || age > gateTuning.challengeTtlMs) return false;
    return await verify(await this.#tagKey, `${m[1]}.${m[2]}`, m[3]);
  }

  #expire(): void {
    const now = this.#o.nowMs();
    for (const [k, exp] of this.#used) if (exp <= now) this.#used.delete(k);
    for (const [k, t] of this.#tickets) if (t.expiresMs <= now) this.#tickets.delete(k);
  }
}
