// The HTTP/1.1 edge on Deno.listen: accepts within the connection cap, serves the app, stops.

import type { Duplex } from "node:stream";
import tls from "node:tls";
import { ConnDuplex } from "./conn_duplex.ts";
import { type ConnectionHooks, HttpConnection } from "./connection.ts";
import { ConnectionGuard, type ConnectionStats } from "./connection_guard.ts";
import type { RequestHead } from "./head.ts";
import { httpTimeouts } from "./limits.ts";
import { installLightResponse } from "./response.ts";
import { closingError, writeAll } from "./answer.ts";
import { type ByteConn, SocketConn } from "./socket_conn.ts";

/** The request line and headers of a WebSocket upgrade, as `ws` reads them. */
export interface UpgradeRequest {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
}

export interface HttpServerOptions {
  fetch: (request: Request) => Response | Promise<Response>;
  /** Most open connections; see defaultMaxConnections. */
  maxConnections: number;
  /** Request bodies beyond this are not read: the app sees them as too large. */
  maxBodyBytes: number;
  tls?: { cert: string; key: string };
  /** `GET` upgrades to a WebSocket (the peer link): the handler takes the socket or refuses. */
  onUpgrade(req: UpgradeRequest, socket: Duplex, head: Uint8Array): void;
  onError(event: string, error: unknown): void;
  /** The time bounds; httpTimeouts unless a test shortens them. */
  timeouts?: typeof httpTimeouts;
}

export interface HttpServer {
  readonly stats: ConnectionStats;
  /** The port listened on (the one asked for, or the one given for port 0). */
  readonly port: number;
  listen(host: string, port: number): Promise<void>;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes the rest. */
  close(graceMs: number): Promise<void>;
}

/** Thrown by listen() when the port is taken. */
export class AddressInUse extends Error {
  readonly code = "EADDRINUSE";
}

const refusal = (max: number) =>
  closingError(
    503,
    "too_many_connections",
    `The node holds its maximum of ${max} connections, all busy; retry shortly`,
    "retry-after: 1\r\n",
  );

/** Builds the server; nothing listens until listen(). */
export function createHttpServer(o: HttpServerOptions): HttpServer {
  installLightResponse();
  return new EdgeServer(o);
}

class EdgeServer implements HttpServer {
  readonly #guard: ConnectionGuard<HttpConnection>;
  readonly #runs = new Set<Promise<void>>();
  readonly #hooks: ConnectionHooks;
  #listener: Deno.Listener | null = null;
  #tlsServer: tls.Server | null = null;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #date = new Date().toUTCString();
  readonly #bounds: typeof httpTimeouts;

  constructor(readonly o: HttpServerOptions) {
    this.#bounds = o.timeouts ?? httpTimeouts;
    this.#guard = new ConnectionGuard(o.maxConnections);
    this.#hooks = {
      fetch: o.fetch,
      maxBodyBytes: o.maxBodyBytes,
      scheme: o.tls ? "https" : "http",
      upgrade: (connection, head, rest) => this.#upgrade(connection, head, rest),
      closed: (connection) => this.#guard.release(connection),
      stopping: () => this.#stopping,
      date: () => this.#date,
      keepAliveLine: `keep-alive: timeout=${Math.floor(this.#bounds.keepAliveMs / 1000)}\r\n`,
      onError: o.onError,
    };
  }

  get stats(): ConnectionStats {
    return this.#guard.stats;
  }

  get port(): number {
    const tlsAddress = this.#tlsServer?.address();
    if (tlsAddress && typeof tlsAddress === "object") return tlsAddress.port;
    return (this.#listener?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  async listen(host: string, port: number): Promise<void> {
    if (this.o.tls) await this.#listenTls(host, port, this.o.tls);
    else {
      try {
        this.#listener = Deno.listen({ hostname: host, port });
      } catch (err) {
        if (err instanceof Deno.errors.AddrInUse) throw new AddressInUse(err.message);
        throw err;
      }
      void this.#acceptLoop(this.#listener);
    }
    this.#ticker = setInterval(() => this.#tick(), this.#bounds.checkEveryMs);
    Deno.unrefTimer(this.#ticker as unknown as number);
  }

  /**
   * TLS through node:tls: its sockets take no-delay, Deno's TLS connections do not (see
   * SocketConn). A connection reaches the cap once its handshake is done; handshakes in flight
   * are bounded by node's own cap (twice ours) and the head's time bound.
   */
  #listenTls(host: string, port: number, keys: { cert: string; key: string }): Promise<void> {
    const server = tls.createServer(
      { ...keys, handshakeTimeout: this.#bounds.headersMs },
      (socket) => this.#serve(new SocketConn(socket)),
    );
    server.maxConnections = this.o.maxConnections * 2;
    server.on("tlsClientError", () => {}); // a failed handshake is closed; nothing to log
    this.#tlsServer = server;
    return new Promise((resolve, reject) => {
      const failed = (err: Error & { code?: string }) =>
        reject(err.code === "EADDRINUSE" ? new AddressInUse(err.message) : err);
      server.once("error", failed);
      server.listen({ host, port, backlog: 511 }, () => {
        server.off("error", failed);
        server.on("error", (err) => this.o.onError("http_server_error", err));
        resolve();
      });
    });
  }

  async close(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#ticker);
    try {
      this.#listener?.close();
    } catch {
      // closed already
    }
    this.#tlsServer?.close();
    // Idle ones close now, busy ones after their answer; peer links are the transport's to close.
    for (const c of [...this.#guard.connections()]) if (!c.busy) c.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled([...this.#runs]), grace]);
    clearTimeout(timer);
    for (const c of [...this.#guard.connections()]) if (c.state !== "upgraded") c.close();
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#stopping || err instanceof Deno.errors.BadResource) return;
        // Out of descriptors or a transient failure: logged, and the loop goes on shortly.
        this.o.onError("http_accept_failed", err);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#serve(conn);
    }
  }

  #serve(conn: ByteConn): void {
    const connection = new HttpConnection(conn, this.#hooks);
    if (!this.#guard.admit(connection)) return void this.#refuse(conn);
    try {
      conn.setNoDelay?.(true);
    } catch {
      // closed already
    }
    const run = connection.run();
    this.#runs.add(run);
    void run.finally(() => this.#runs.delete(run));
  }

  /**
   * Past the cap with every connection busy: a clear 503, then the close (over TLS too: node:tls
   * hands over a connection once its handshake is done).
   */
  #refuse(conn: ByteConn): void {
    writeAll(conn, refusal(this.o.maxConnections)).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // closed already
      }
    });
  }

  #upgrade(connection: HttpConnection, head: RequestHead, rest: Uint8Array): void {
    // (upgraded: busy for good, never evicted)
    const socket = new ConnDuplex(connection.conn);
    socket.once("close", () => this.#guard.release(connection));
    const req = { method: head.method, url: head.target, headers: head.headers };
    this.o.onUpgrade(req, socket, rest);
  }

  #tick(): void {
    const nowMs = Date.now();
    this.#date = new Date(nowMs).toUTCString();
    for (const c of [...this.#guard.connections()]) c.expire(nowMs, this.#bounds);
  }
}
