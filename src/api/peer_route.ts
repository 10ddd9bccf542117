// The peer routes: GET /raft/challenge, POST /raft/hello, and the ticketed /raft upgrade.

import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Context, Hono } from "hono";
// @ts-types="npm:@types/ws@8.18.2"
import { WebSocketServer } from "ws";
import { RaftqError } from "../errors.ts";
import { ticketHeader } from "../transport/dial.ts";
import { otherProtocol, parseHello } from "../transport/peer_gate.ts";
import type { PeerSocket, WsTransport } from "../transport/transport.ts";
import { readJson } from "./body.ts";
import { errorResponse } from "./errors.ts";
import { maxFrameChars } from "../transport/frames.ts";
import type { UpgradeRequest } from "../http/server.ts";
import { closingError } from "../http/answer.ts";

/** A hello is a few hundred bytes; nothing larger is read from a stranger. */
const maxHelloBytes = 4096;

/** Peers never send Origin; a browser always does. A web page must not reach the peer routes. */
function refuseBrowsers(c: Context): Response | null {
  if (c.req.header("origin") === undefined) return null;
  return errorResponse(
    c,
    new RaftqError("unauthorized", "Peer links do not accept browser origins"),
  );
}

export function peerRoutes(app: Hono, transport: WsTransport): void {
  app.get(
    "/raft/challenge",
    async (c) => refuseBrowsers(c) ?? c.json(await transport.gate.challenge()),
  );

  app.post("/raft/hello", async (c) => {
    const refused = refuseBrowsers(c);
    if (refused) return refused;
    const body = await readJson(c, maxHelloBytes);
    const other = otherProtocol(body);
    if (other) {
      transport.refusedPeer(other, null);
      return c.json({ error: { code: "peer_refused", message: other } }, 403);
    }
    const hello = parseHello(body);
    if (!hello) throw new RaftqError("invalid_request", "The body is not a peer hello");
    const r = await transport.gate.admit(hello);
    if (!r.ok) {
      transport.refusedPeer(r.reason, hello.nodeId);
      return c.json({ error: { code: "peer_refused", message: r.reason } }, 403);
    }
    return c.json(r.welcome);
  });

  app.get("/raft", (c) =>
    refuseBrowsers(c) ?? errorResponse(
      c,
      new RaftqError(
        "invalid_request",
        "GET /raft is a WebSocket endpoint for authenticated peers",
      ),
    ));
}

/**
 * Upgrades `GET /raft` to the peer WebSocket when it carries a ticket from POST /raft/hello; any
 * other upgrade is answered with an HTTP error and closed, so a stranger never holds a socket
 * that accepts frames.
 */
export function peerUpgrade(
  transport: WsTransport,
): (req: UpgradeRequest, socket: Duplex, head: Uint8Array) => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameChars });
  return (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    const ticket = req.headers[ticketHeader];
    const peerId = path === "/raft" && req.headers.origin === undefined
      ? transport.gate.takeTicket(typeof ticket === "string" ? ticket : null)
      : null;
    if (peerId === null) {
      if (path === "/raft") transport.refusedPeer("an upgrade without a valid ticket", null);
      return rejectUpgrade(socket, path === "/raft" ? 401 : 404);
    }
    wss.handleUpgrade(req as unknown as IncomingMessage, socket, Buffer.from(head), (ws) => {
      transport.accept(ws as unknown as PeerSocket, peerId);
    });
  };
}

function rejectUpgrade(socket: Duplex, status: 401 | 404): void {
  const answer = status === 401
    ? closingError(401, "unauthorized", "Peer links need a ticket from POST /raft/hello")
    : closingError(404, "not_found", "Only /raft upgrades to a WebSocket");
  socket.end(answer, () => socket.destroy());
}
