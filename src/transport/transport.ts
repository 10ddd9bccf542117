// Peer links over WebSockets: dialing with backoff, authenticated links, framing, backpressure.

import { setImmediate } from "node:timers";
import { releaseBuffer } from "../buffers.ts";
import { rateLimited } from "../log.ts";
import type { Message, NodeId } from "../raft/mod.ts";
import { dialPeer, DialRefused } from "./dial.ts";
import { type ClockEstimate, ClockOffsets } from "./clock_offsets.ts";
import { decodeFrame, encodeFrame, type Frame } from "./frames.ts";
import { forwardMac, hmacKey, sameMac } from "./handshake.ts";
import { PeerGate } from "./peer_gate.ts";
import { PendingProposals, ProposalFailed } from "./proposals.ts";

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
  /**
   * A write a follower forwarded (its command, as the log encodes it): the leader proposes it and
   * answers the apply's result; a refusal throws a ProposalFailed. Absent: refused.
   */
  onProposal?(cmd: string, from: NodeId): Promise<Record<string, unknown>>;
  /** A follower's read: the leader answers its read index once a round confirms it leads. */
  onReadIndex?(from: NodeId): Promise<Record<string, unknown>>;
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

/** The little of a WebSocket a link uses: Deno's client sockets and `ws`'s server sockets. */
export interface PeerSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", fn: (ev: { data: unknown }) => void): void;
  addEventListener(type: "close" | "error", fn: () => void): void;
}

const socketOpen = 1;

/** ws's server socket, which calls back once a send has been written. */
interface ServerSocket {
  send(data: Uint8Array, cb: (err?: Error) => void): void;
}

/**
 * Binary frames from this size up have their buffer freed as soon as the socket no longer needs
 * it (see releaseBuffer), not at V8's next collection: V8 collects buffers outside its heap only
 * once they have grown by some 64 MiB, and a leader sends every entry to each follower and an
 * image in 512 KiB chunks (during a join at 10,000,000 jobs its RSS swung by about that much).
 */
const releasedFrameBytes = 64 * 1024;

/** A socket whose writes can be held and let go together (node:net's cork and uncork). */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** One authenticated WebSocket to a peer: both sides proved the secret before it opened. */
class PeerLink {
  closed = false;
  lastHeardMs = Date.now();
  /** Whether this turn's grouped frames are being held (see sendGrouped). */
  #corked = false;

  constructor(
    readonly ws: PeerSocket,
    readonly direction: "out" | "in",
    readonly peerId: NodeId,
  ) {}

  get usable(): boolean {
    return !this.closed && this.ws.readyState === socketOpen;
  }

  sendFrame(frame: Frame): void {
    if (this.ws.readyState !== socketOpen) return;
    const data = encodeFrame(frame);
    if (typeof data === "string" || data.byteLength < releasedFrameBytes) {
      this.ws.send(data);
    } else if (this.direction === "out") {
      this.ws.send(data); // (Deno's WebSocket has copied the bytes when send returns)
      releaseBuffer(data);
    } else {
      // ws writes the buffer itself, once the socket takes it: it goes then.
      (this.ws as ServerSocket).send(data, () => releaseBuffer(data));
    }
  }

  /**
   * Sends a frame with the others of this loop turn: where the socket under the WebSocket can
   * hold its writes (ws's server side, the link a peer dialed), they leave in one write, and the
   * peer reads them in one wake-up. For forwarded writes and their answers, which come many a turn.
   */
  sendGrouped(frame: Frame): void {
    const socket = (this.ws as { _socket?: Partial<Corkable> })._socket;
    if (
      !this.#corked && typeof socket?.cork === "function" && typeof socket.uncork === "function"
    ) {
      socket.cork();
      this.#corked = true;
      setImmediate(() => {
        this.#corked = false;
        socket.uncork!();
      });
    }
    this.sendFrame(frame);
  }

  close(code = 1000, reason = ""): void {
    this.closed = true;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      // already closing
    }
  }
}

export class WsTransport {
  readonly #o: TransportOptions;
  readonly #key: Promise<CryptoKey>;
  /** Admits peers that dial this node (the /raft/challenge, /raft/hello and upgrade routes). */
  readonly gate: PeerGate;
  /** Open (authenticated) links by peer id. */
  #links = new Map<NodeId, Set<PeerLink>>();
  #dial = new Map<NodeId, { attempt: number; nextAtMs: number; dialing: boolean }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  readonly #warn: (event: string, fields: Record<string, unknown>) => void;
  readonly stats = {
    sent: 0,
    received: 0,
    dropped: 0,
    invalidFrames: 0,
    refused: 0,
    proposalsForwarded: 0,
    proposalsReceived: 0,
    readsForwarded: 0,
    readsReceived: 0,
  };
  /** Writes this node forwarded to the leader, waiting for its answers. */
  readonly #proposals = new PendingProposals();
  /** Why each peer last refused our link (wrong secret, another cluster), if it did. */
  readonly refusals = new Map<NodeId, string>();
  /** Forwarded-by headers by request (their MAC depends on nothing else once the cluster is set). */
  readonly #forwardHeaders = new Map<string, string>();
  /** Each peer's clock offset from ours, from the readings in pings and pongs. */
  readonly clock = new ClockOffsets();

  constructor(options: TransportOptions) {
    this.#o = options;
    this.#key = hmacKey(options.secret);
    this.gate = new PeerGate({
      selfId: options.selfId,
      key: this.#key,
      clusterId: options.clusterId,
      adoptClusterId: options.adoptClusterId,
      nowMs: () => performance.now(),
    });
    // Refusals are what strangers can cause at will: a few lines, then a count.
    this.#warn = rateLimited((event, fields) => options.log("warn", event, fields), 10, 10_000);
  }

  start(): void {
    this.#timer = setInterval(() => this.#maintain(), linkTuning.maintainEveryMs);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const set of this.#links.values()) for (const l of set) l.close(1001, "node stopping");
    this.#links.clear();
  }

  /** Whether an authenticated link to `id` is open and has been heard from recently. */
  reachable(id: NodeId): boolean {
    const set = this.#links.get(id);
    if (!set) return false;
    const now = Date.now();
    return [...set].some((l) => l.usable && now - l.lastHeardMs < linkTuning.silenceLimitMs);
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
    // A snapshot chunk is read afresh for each send and the frame holds a copy: its buffer goes
    // now, not at V8's next collection (a leader sending an image otherwise holds tens of MiB).
    for (const m of messages) if (m.type === "snapshot") releaseBuffer(m.chunk);
  }

  /**
   * Sends a write to the leader `to` over the peer link and waits for the apply's result (at most
   * `timeoutMs`; then, or if the link closes first, the outcome is unknown).
   */
  forwardProposal(to: NodeId, cmd: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return this.#ask(to, timeoutMs, (id) => {
      this.stats.proposalsForwarded++;
      return { t: "prop", id, cmd };
    });
  }

  /** Asks the leader `to` for its read index over the peer link (answered `{index}`). */
  forwardRead(to: NodeId, timeoutMs: number): Promise<Record<string, unknown>> {
    return this.#ask(to, timeoutMs, (id) => {
      this.stats.readsForwarded++;
      return { t: "read", id };
    });
  }

  /** Sends the frame `frame(id)` to `to` and waits for the propResult of that id. */
  #ask(to: NodeId, timeoutMs: number, frame: (id: number) => Frame) {
    const link = this.#pick(to);
    if (!link) {
      const message = `no open link to the leader ${to}`;
      return Promise.reject(
        new ProposalFailed({ code: "no_leader", message, retryAfterSeconds: 1 }),
      );
    }
    const { id, answer } = this.#proposals.start(to, timeoutMs);
    link.sendGrouped(frame(id));
    return answer;
  }

  /** A forwarded write from an authenticated peer: proposed here, its outcome sent back. */
  #onProposal(link: PeerLink, id: number, cmd: string): void {
    const handle = this.#o.onProposal;
    if (handle) this.stats.proposalsReceived++;
    this.#answer(link, id, handle && (() => handle(cmd, link.peerId)), "forwarded writes");
  }

  /** A follower's read from an authenticated peer: this node's read index sent back. */
  #onRead(link: PeerLink, id: number): void {
    const handle = this.#o.onReadIndex;
    if (handle) this.stats.readsReceived++;
    this.#answer(link, id, handle && (() => handle(link.peerId)), "read index requests");
  }

  /** Sends back what `work` answers for the frame `id`, or why it could not. */
  #answer(
    link: PeerLink,
    id: number,
    work: (() => Promise<Record<string, unknown>>) | undefined,
    what: string,
  ): void {
    // On the link this node prefers for sending to that peer (the one it holds writes on), which
    // need not be the one the request came on.
    const reply = (frame: Frame) => (this.#pick(link.peerId) ?? link).sendGrouped(frame);
    const refuse = (error: ProposalFailed["error"]) => reply({ t: "propResult", id, error });
    if (!work) return refuse({ code: "unavailable", message: `this node takes no ${what}` });
    work().then(
      (result) => reply({ t: "propResult", id, result }),
      (err: unknown) =>
        refuse(
          err instanceof ProposalFailed
            ? err.error
            : { code: "unavailable", message: err instanceof Error ? err.message : String(err) },
        ),
    );
  }

  /** This node's best recent estimate of `peer`'s clock offset, or null. */
  clockEstimate(peer: NodeId): ClockEstimate | null {
    return this.clock.estimate(peer, performance.now());
  }

  /** The forwarded-by header for a request this node passes to the leader. */
  signForward(method: string, target: string): string {
    const clusterId = this.#o.clusterId() ?? "";
    const key = `${clusterId} ${method} ${target}`;
    let header = this.#forwardHeaders.get(key);
    if (header === undefined) {
      header = `${this.#o.selfId} ${
        forwardMac(this.#o.secret, clusterId, this.#o.selfId, method, target)
      }`;
      // Most forwards repeat a route (an enqueue to a queue): their MAC is computed once.
      if (this.#forwardHeaders.size >= 1024) this.#forwardHeaders.clear();
      this.#forwardHeaders.set(key, header);
    }
    return header;
  }

  /** Whether a forwarded-by header was made by a member for exactly this request. */
  verifyForward(header: string, method: string, target: string): boolean {
    const m = /^([A-Za-z0-9_.-]{1,64}) ([0-9a-f]{64})$/.exec(header);
    const clusterId = this.#o.clusterId();
    if (!m || clusterId === null) return false;
    return sameMac(forwardMac(this.#o.secret, clusterId, m[1], method, target), m[2]);
  }

  /**
   * Records a refusal of the handshake by this node (a stranger, a wrong secret), rate-limited:
   * anyone can cause one.
   */
  refusedPeer(reason: string, peer: string | null): void {
    this.stats.refused++;
    this.#warn("peer_refused", { peer, direction: "in", reason });
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
      if (!l.usable) continue;
      if (!best || (l.direction === "in" && best.direction === "out")) best = l;
    }
    return best;
  }

  #hasOutbound(id: NodeId): boolean {
    const set = this.#links.get(id);
    return set !== undefined && [...set].some((l) => l.direction === "out" && l.usable);
  }

  // ------------------------------------------------------------ dialing

  #wantDial(id: NodeId): void {
    if (!this.#dial.has(id)) this.#dial.set(id, { attempt: 0, nextAtMs: 0, dialing: false });
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
        } else if (l.usable) {
          l.sendFrame({ t: "ping", sentMs: Date.now() });
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
      if (d.dialing || now < d.nextAtMs) continue;
      void this.#connect(p, d);
    }
  }

  async #connect(
    p: PeerAddress,
    d: { attempt: number; nextAtMs: number; dialing: boolean },
  ): Promise<void> {
    const clusterId = this.#o.clusterId();
    if (clusterId === null) return; // a joining node is dialed by the leader, never dials first
    d.dialing = true;
    try {
      const ws = await dialPeer(p, {
        selfId: this.#o.selfId,
        clusterId,
        key: this.#key,
        timeoutMs: linkTuning.handshakeTimeoutMs,
      });
      if (this.#stopped) return ws.close(1001, "node stopping");
      this.refusals.delete(p.id);
      this.#wire(new PeerLink(ws, "out", p.id));
    } catch (err) {
      this.#backoff(d);
      this.#dialFailed(p.id, err);
    } finally {
      d.dialing = false;
    }
  }

  #dialFailed(peer: NodeId, err: unknown): void {
    const message = (err as Error).message.split("\n")[0];
    if (!(err instanceof DialRefused)) {
      this.#o.log("debug", "peer_dial_failed", { peer, error: message });
      return;
    }
    // Remembered for the join that waits on this peer (POST /admin/members).
    this.refusals.set(peer, message);
    this.stats.refused++;
    this.#warn(err.byPeer ? "peer_refused_us" : "peer_refused", {
      peer,
      direction: "out",
      reason: message,
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

  /** Takes over a server-side socket whose upgrade carried a ticket the gate issued to `peerId`. */
  accept(ws: PeerSocket, peerId: NodeId): void {
    if (this.#stopped) return ws.close(1001, "node stopping");
    this.#wire(new PeerLink(ws, "in", peerId));
  }

  #wire(link: PeerLink): void {
    let set = this.#links.get(link.peerId);
    if (!set) {
      set = new Set();
      this.#links.set(link.peerId, set);
    }
    set.add(link);
    if (link.direction === "out") this.#dial.delete(link.peerId);
    this.#o.log("info", "peer_connected", { peer: link.peerId, direction: link.direction });
    link.sendFrame({ t: "ping", sentMs: Date.now() }); // a clock reading at once
    link.ws.addEventListener("message", (ev) => {
      link.lastHeardMs = Date.now();
      const frame = decodeFrame(ev.data);
      // The decoded frame holds no view of the message's bytes (strings, copied chunks), and
      // Deno's WebSocket (the links this node dialled) gives each message a buffer of its own:
      // it goes now (releaseBuffer). ws's Buffers may be its socket's read buffers: left alone.
      if (ev.data instanceof ArrayBuffer) releaseBuffer(ev.data);
      if (!frame) {
        this.stats.invalidFrames++;
        return;
      }
      this.#onFrame(link, frame);
    });
    link.ws.addEventListener("close", () => {
      link.closed = true;
      this.#drop(link);
      this.#proposals.linkClosed(link.peerId);
      this.#o.log("info", "peer_disconnected", { peer: link.peerId, direction: link.direction });
    });
    link.ws.addEventListener("error", () => {});
  }

  #drop(link: PeerLink): void {
    const set = this.#links.get(link.peerId);
    set?.delete(link);
    if (set?.size === 0) this.#links.delete(link.peerId);
  }

  #onFrame(link: PeerLink, frame: Frame): void {
    if (link.closed) return;
    if (frame.t === "ping") {
      return link.sendFrame({ t: "pong", echoMs: frame.sentMs, atMs: Date.now() });
    }
    if (frame.t === "prop") return this.#onProposal(link, frame.id, frame.cmd);
    if (frame.t === "read") return this.#onRead(link, frame.id);
    if (frame.t === "propResult") {
      if (!this.#proposals.answer(link.peerId, frame.id, frame)) this.stats.invalidFrames++;
      return;
    }
    if (frame.t === "pong") {
      return this.clock.record(
        link.peerId,
        frame.echoMs,
        frame.atMs,
        Date.now(),
        performance.now(),
      );
    }
    for (const m of frame.ms) {
      // Only messages from the authenticated peer, to us, reach the core.
      if (m.from !== link.peerId || m.to !== this.#o.selfId) {
        this.stats.invalidFrames++;
        continue;
      }
      this.stats.received++;
      this.#o.onMessage(m);
    }
  }
}
