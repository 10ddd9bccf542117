// Peer links over WebSockets: dialing with backoff, the HMAC handshake, framing, backpressure.

import type { Message, NodeId } from "../raft/mod.ts";
import { decodeFrame, encodeFrame, type Frame } from "./frames.ts";
import { hmacKey, newNonce, sign, transcript, verify } from "./handshake.ts";

export interface PeerAddress {
  id: NodeId;
  url: string;
}

export interface TransportOptions {
  selfId: NodeId;
  secret: string;
  /** The cluster this node belongs to; null while a joining node has not learned it yet. */
  clusterId(): string | null;
  /** A joining node adopts the first authenticated cluster id it meets; false refuses it. */
  adoptClusterId(id: string): boolean;
  /** The peers to keep links to (members other than this node). */
  peers(): PeerAddress[];
  onMessage(m: Message): void;
  log(
    level: "debug" | "info" | "warn" | "error",
    event: string,
    fields?: Record<string, unknown>,
  ): void;
}

/** Tunables of the peer links. */
export const linkTuning = {
  handshakeTimeoutMs: 5_000,
  pingEveryMs: 1_000,
  /** A link that has heard nothing for this long is closed and redialed. */
  silenceLimitMs: 5_000,
  /** Messages to a peer whose socket has this much unsent are dropped (Raft resends). */
  maxBufferedBytes: 8 * 1024 * 1024,
  dialBackoffMinMs: 100,
  dialBackoffMaxMs: 5_000,
  maintainEveryMs: 250,
};

type LinkState = "handshake" | "open" | "closed";

class PeerLink {
  state: LinkState = "handshake";
  peerId: NodeId | null;
  lastHeardMs = Date.now();
  readonly myNonce = newNonce();
  /** The nonce of the peer's challenge, on a link we dialed (signed back in our hello). */
  otherNonce: string | null = null;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ws: WebSocket,
    readonly direction: "out" | "in",
    expectedPeer: NodeId | null,
  ) {
    this.peerId = expectedPeer;
  }

  /** Runs frame handlers one after another (the handshake awaits HMACs). */
  enqueue(fn: () => Promise<void>): void {
    this.#queue = this.#queue.then(fn).catch(() => this.close(1011, "internal error"));
  }

  sendFrame(frame: Frame): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(frame));
  }

  close(code = 1000, reason = ""): void {
    this.state = "closed";
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      // already closing
    }
  }
}

export function peerSocketUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, "ws").replace(/\/+$/, "") + "/raft";
}

export class WsTransport {
  readonly #o: TransportOptions;
  #key: Promise<CryptoKey>;
  /** Open (authenticated) links by peer id. */
  #links = new Map<NodeId, Set<PeerLink>>();
  #pending = new Set<PeerLink>();
  #dial = new Map<NodeId, { attempt: number; nextAtMs: number; link: PeerLink | null }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  readonly stats = { sent: 0, received: 0, dropped: 0, invalidFrames: 0, refused: 0 };
  /** Why each peer last refused our link (wrong secret, another cluster), if it did. */
  readonly refusals = new Map<NodeId, string>();

  constructor(options: TransportOptions) {
    this.#o = options;
    this.#key = hmacKey(options.secret);
  }

  start(): void {
    this.#timer = setInterval(() => this.#maintain(), linkTuning.maintainEveryMs);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const set of this.#links.values()) for (const l of set) l.close(1001, "node stopping");
    for (const l of this.#pending) l.close(1001, "node stopping");
    this.#links.clear();
  }

  /** Whether an authenticated link to `id` is open and has been heard from recently. */
  reachable(id: NodeId): boolean {
    const set = this.#links.get(id);
    if (!set) return false;
    const now = Date.now();
    return [...set].some((l) =>
      l.state === "open" && now - l.lastHeardMs < linkTuning.silenceLimitMs
    );
  }

  send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, ms] of byPeer) {
      const link = this.#pick(to);
      if (!link) {
        this.stats.dropped += ms.length;
        this.#wantDial(to);
        continue;
      }
      if (link.ws.bufferedAmount > linkTuning.maxBufferedBytes) {
        // A slow peer: drop rather than buffer without bound; the leader probes again.
        this.stats.dropped += ms.length;
        continue;
      }
      link.sendFrame({ t: "raft", ms });
      this.stats.sent += ms.length;
    }
  }

  /**
   * The link to send on: the one the peer dialed (a server-side socket, which has TCP_NODELAY),
   * else the one we dialed. Deno's WebSocket client leaves Nagle's algorithm on, which holds a
   * second small write back for a delayed ACK (~40 ms); so every node dials every peer, and each
   * direction of traffic rides the socket its receiver dialed.
   */
  #pick(id: NodeId): PeerLink | null {
    const set = this.#links.get(id);
    if (!set) return null;
    let best: PeerLink | null = null;
    for (const l of set) {
      if (l.state !== "open" || l.ws.readyState !== WebSocket.OPEN) continue;
      if (!best || (l.direction === "in" && best.direction === "out")) best = l;
    }
    return best;
  }

  #hasOutbound(id: NodeId): boolean {
    const set = this.#links.get(id);
    return set !== undefined && [...set].some((l) => l.direction === "out" && l.state === "open");
  }

  // ------------------------------------------------------------ dialing

  #wantDial(id: NodeId): void {
    if (!this.#dial.has(id)) this.#dial.set(id, { attempt: 0, nextAtMs: 0, link: null });
  }

  #maintain(): void {
    if (this.#stopped) return;
    const now = Date.now();
    const peers = this.#o.peers();
    const wanted = new Set(peers.map((p) => p.id));
    for (const [id, set] of this.#links) {
      for (const l of set) {
        if (now - l.lastHeardMs > linkTuning.silenceLimitMs) {
          this.#o.log("warn", "peer_silent", { peer: id });
          l.close(4000, "silent");
          this.#drop(l);
        } else if (l.state === "open") {
          l.sendFrame({ t: "ping" });
        }
      }
      // Stop our own links to former members; links others dialed stay (a joining node knows
      // no members yet, and must keep the leader's link open while it catches up).
      if (!wanted.has(id)) {
        for (const l of set) if (l.direction === "out") l.close(1000, "not a member");
      }
    }
    for (const p of peers) {
      if (this.#hasOutbound(p.id)) {
        this.#dial.delete(p.id);
        continue;
      }
      // Every node keeps its own outbound link to every peer (see #pick).
      this.#wantDial(p.id);
      const d = this.#dial.get(p.id)!;
      if (d.link !== null || now < d.nextAtMs) continue;
      this.#connect(p, d);
    }
  }

  #connect(p: PeerAddress, d: { attempt: number; nextAtMs: number; link: PeerLink | null }): void {
    let ws: WebSocket;
    try {
      ws = new WebSocket(peerSocketUrl(p.url));
    } catch (err) {
      this.#backoff(d);
      this.#o.log("warn", "peer_dial_failed", { peer: p.id, error: (err as Error).message });
      return;
    }
    const link = new PeerLink(ws, "out", p.id);
    d.link = link;
    this.#wire(link, () => {
      d.link = null;
      this.#backoff(d);
    });
  }

  #backoff(d: { attempt: number; nextAtMs: number }): void {
    d.attempt++;
    const base = Math.min(
      linkTuning.dialBackoffMaxMs,
      linkTuning.dialBackoffMinMs * 2 ** Math.min(10, d.attempt - 1),
    );
    d.nextAtMs = Date.now() + base / 2 + Math.random() * (base / 2); // jitter
  }

  // ------------------------------------------------------------ accepting

  /** Takes over an upgraded server-side socket (GET /raft). */
  accept(ws: WebSocket): void {
    if (this.#stopped) {
      ws.close(1001, "node stopping");
      return;
    }
    this.#wire(new PeerLink(ws, "in", null), () => {});
  }

  #wire(link: PeerLink, onGone: () => void): void {
    this.#pending.add(link);
    const deadline = setTimeout(() => {
      if (link.state === "handshake") {
        this.#o.log("warn", "peer_handshake_timeout", { peer: link.peerId });
        link.close(4001, "handshake timeout");
      }
    }, linkTuning.handshakeTimeoutMs);
    const onOpen = () => {
      if (link.direction === "in") {
        link.sendFrame({
          t: "challenge",
          v: 1,
          clusterId: this.#o.clusterId(),
          nodeId: this.#o.selfId,
          nonce: link.myNonce,
        });
      }
    };
    if (link.ws.readyState === WebSocket.OPEN) onOpen();
    else link.ws.addEventListener("open", onOpen);
    link.ws.addEventListener("message", (ev) => {
      link.lastHeardMs = Date.now();
      const frame = decodeFrame(ev.data);
      if (!frame) {
        this.stats.invalidFrames++;
        if (link.state !== "open") link.close(4002, "invalid frame");
        return;
      }
      link.enqueue(() => this.#onFrame(link, frame));
    });
    link.ws.addEventListener("close", () => {
      clearTimeout(deadline);
      const wasOpen = link.state === "open";
      link.state = "closed";
      this.#pending.delete(link);
      this.#drop(link);
      if (wasOpen) {
        this.#o.log("info", "peer_disconnected", { peer: link.peerId, direction: link.direction });
      }
      onGone();
    });
    link.ws.addEventListener("error", () => {});
  }

  #drop(link: PeerLink): void {
    if (!link.peerId) return;
    const set = this.#links.get(link.peerId);
    set?.delete(link);
    if (set?.size === 0) this.#links.delete(link.peerId);
  }

  #refuse(link: PeerLink, reason: string): void {
    this.stats.refused++;
    // A peer we dialed that turned out to be foreign: remember why, for the join that waits on it.
    if (link.direction === "out" && link.peerId) this.refusals.set(link.peerId, reason);
    this.#o.log("warn", "peer_refused", { peer: link.peerId, direction: link.direction, reason });
    link.sendFrame({ t: "refused", reason });
    link.close(4003, reason);
  }

  async #onFrame(link: PeerLink, frame: Frame): Promise<void> {
    if (link.state === "closed") return;
    if (link.state === "open") {
      if (frame.t === "raft") {
        for (const m of frame.ms) {
          // Only messages from the authenticated peer, to us, reach the core.
          if (m.from !== link.peerId || m.to !== this.#o.selfId) {
            this.stats.invalidFrames++;
            continue;
          }
          this.stats.received++;
          this.#o.onMessage(m);
        }
      } else if (frame.t === "ping") {
        link.sendFrame({ t: "pong" });
      }
      return;
    }
    const key = await this.#key;
    if (link.direction === "out") {
      if (frame.t === "refused") {
        this.#o.log("warn", "peer_refused_us", { peer: link.peerId, reason: frame.reason });
        if (link.peerId) this.refusals.set(link.peerId, frame.reason);
        link.close(4003, frame.reason);
        return;
      }
      if (frame.t === "challenge") {
        const mine = this.#o.clusterId();
        if (mine === null) return this.#refuse(link, "this node has no cluster yet");
        if (frame.clusterId !== null && frame.clusterId !== mine) {
          return this.#refuse(link, `peer belongs to cluster ${frame.clusterId}, not ${mine}`);
        }
        if (link.peerId !== null && frame.nodeId !== link.peerId) {
          return this.#refuse(link, `expected node ${link.peerId}, found ${frame.nodeId}`);
        }
        link.otherNonce = frame.nonce;
        const mac = await sign(
          key,
          transcript("client", mine, this.#o.selfId, frame.nodeId, link.myNonce, frame.nonce),
        );
        link.sendFrame({
          t: "hello",
          v: 1,
          clusterId: mine,
          nodeId: this.#o.selfId,
          nonce: link.myNonce,
          mac,
        });
        return;
      }
      if (frame.t === "welcome") {
        const other = link.otherNonce;
        const mine = this.#o.clusterId();
        if (!other || !mine || !link.peerId) return this.#refuse(link, "welcome before challenge");
        const ok = await verify(
          key,
          transcript("server", mine, link.peerId, this.#o.selfId, other, link.myNonce),
          frame.mac,
        );
        if (!ok) return this.#refuse(link, "the peer could not prove the cluster secret");
        return this.#opened(link);
      }
      return this.#refuse(link, `unexpected ${frame.t} during the handshake`);
    }
    // Inbound: expect the dialer's hello.
    if (frame.t !== "hello") {
      return this.#refuse(link, `unexpected ${frame.t} during the handshake`);
    }
    const ok = await verify(
      key,
      transcript(
        "client",
        frame.clusterId,
        frame.nodeId,
        this.#o.selfId,
        frame.nonce,
        link.myNonce,
      ),
      frame.mac,
    );
    link.peerId = frame.nodeId;
    if (!ok) return this.#refuse(link, "wrong cluster secret");
    const mine = this.#o.clusterId();
    if (mine === null ? !this.#o.adoptClusterId(frame.clusterId) : mine !== frame.clusterId) {
      return this.#refuse(link, `this node belongs to cluster ${mine}, not ${frame.clusterId}`);
    }
    if (frame.nodeId === this.#o.selfId) {
      return this.#refuse(link, "a node cannot peer with itself");
    }
    const mac = await sign(
      key,
      transcript(
        "server",
        frame.clusterId,
        this.#o.selfId,
        frame.nodeId,
        link.myNonce,
        frame.nonce,
      ),
    );
    link.sendFrame({ t: "welcome", mac });
    this.#opened(link);
  }

  #opened(link: PeerLink): void {
    link.state = "open";
    if (link.peerId) this.refusals.delete(link.peerId);
    this.#pending.delete(link);
    const id = link.peerId!;
    let set = this.#links.get(id);
    if (!set) {
      set = new Set();
      this.#links.set(id, set);
    }
    set.add(link);
    if (link.direction === "out") this.#dial.delete(id);
    this.#o.log("info", "peer_connected", { peer: id, direction: link.direction });
  }
}
