// The HTTP listener: node:http(s) with bounded time and connections, serving the Hono app.

import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { ConnectionGuard, type ConnectionStats } from "./connection_guard.ts";

/** Time bounds of a connection (documented in the README's limits). */
export const httpTimeouts = {
  /** A request's headers must arrive within this, from the connection's start or its last request. */
  headersMs: 10_000,
  /** A whole request (headers and body) must arrive within this. */
  requestMs: 30_000,
  /** A keep-alive connection with no request in flight is closed after this. */
  keepAliveMs: 30_000,
  /** How often those bounds are checked. */
  checkEveryMs: 1_000,
} as const;

/** File descriptors kept free for the database, peer dials and the runtime. */
const reservedDescriptors = 64;

export interface HttpServerOptions {
  fetch: (request: Request) => Response | Promise<Response>;
  /** Most open connections; see defaultMaxConnections. */
  maxConnections: number;
  tls?: { cert: string; key: string };
  /** `GET` upgrades to a WebSocket (the peer link): the handler takes the socket or refuses. */
  onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Uint8Array): void;
  onError(event: string, error: unknown): void;
}

export interface HttpServer {
  readonly stats: ConnectionStats;
  listen(host: string, port: number): Promise<void>;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes the rest. */
  close(graceMs: number): Promise<void>;
}

/**
 * The connection cap: at most `wanted`, and at most what the open-files limit allows with room
 * for each connection's possible forward to the leader (two descriptors each), so an accept can
 * never fail for want of a descriptor.
 */
export function defaultMaxConnections(wanted: number, openFilesLimit: number | null): number {
  if (openFilesLimit === null) return wanted;
  return Math.max(16, Math.min(wanted, Math.floor((openFilesLimit - reservedDescriptors) / 2)));
}

/** The soft open-files limit of this process (Linux), or null where it cannot be read. */
export function openFilesLimit(): number | null {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    return m && m[1] !== "unlimited" ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const refusal = (max: number) => {
  const body = JSON.stringify({
    error: {
      code: "too_many_connections",
      message: `The node holds its maximum of ${max} connections, all busy; retry shortly`,
    },
  });
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" +
    `Retry-After: 1\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
};

/** Builds the server; nothing listens until listen(). */
export function createHttpServer(o: HttpServerOptions): HttpServer {
  const guard = new ConnectionGuard(o.maxConnections, (socket) => {
    // On a TLS port the first bytes must be a handshake: there, the refusal is the close.
    if (o.tls) socket.destroy();
    else socket.end(refusal(o.maxConnections), () => socket.destroy());
  });
  const listener = getRequestListener(o.fetch, {
    errorHandler: () => jsonError(400, "invalid_request", "The request line or Host is malformed"),
  });
  const options = {
    headersTimeout: httpTimeouts.headersMs,
    requestTimeout: httpTimeouts.requestMs,
    keepAliveTimeout: httpTimeouts.keepAliveMs,
    connectionsCheckingInterval: httpTimeouts.checkEveryMs,
    requireHostHeader: false,
    ...(o.tls ?? {}),
  };
  const server = o.tls
    ? https.createServer(options, (req, res) => serveRequest(guard, listener, req, res))
    : http.createServer(options, (req, res) => serveRequest(guard, listener, req, res));
  server.on("connection", (socket: Socket) => {
    if (guard.admit(socket)) socket.setNoDelay(true);
  });
  server.on("upgrade", (req, socket: Duplex, head) => {
    guard.busy(req.socket); // a peer link holds its connection for good
    o.onUpgrade(req, socket, head);
  });
  server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
    answerMalformed(err, socket);
  });
  return {
    stats: guard.stats,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port, backlog: 511 }, () => {
          server.off("error", reject);
          // Once listening, an error is logged; it never ends the process.
          server.on("error", (err) => o.onError("http_server_error", err));
          resolve();
        });
      }),
    close: (graceMs) => closeServer(server, graceMs),
  };
}

function serveRequest(
  guard: ConnectionGuard,
  listener: ReturnType<typeof getRequestListener>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const done = guard.busy(req.socket);
  res.once("close", done);
  void listener(req, res);
}

function jsonError(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * Requests the HTTP parser refuses before any route sees them (a request line or header over
 * 16 KiB, a bad Content-Length, headers too slow): one JSON error with the fitting status, then
 * the connection closes.
 */
function answerMalformed(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || (err.code === "ECONNRESET")) return void socket.destroy();
  const [status, reason] = err.code === "HPE_HEADER_OVERFLOW"
    ? [431, "Request Header Fields Too Large"]
    : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? [408, "Request Timeout"]
    : [400, "Bad Request"];
  const body = JSON.stringify({
    error: {
      code: status === 408 ? "request_timeout" : "invalid_request",
      message: status === 408
        ? "The request did not arrive in time"
        : `Malformed HTTP (${err.code ?? "parse error"})`,
    },
  });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nConnection: close\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

async function closeServer(server: http.Server | https.Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([closed, grace]);
  clearTimeout(timer);
  server.closeAllConnections();
  // (Peer links are closed by the transport; a socket that lingers does not hold the stop.)
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
}
