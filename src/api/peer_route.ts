// GET /raft: the peer WebSocket. Browsers (any request with an Origin) are refused.

import type { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { ApiError } from "../errors.ts";
import type { WsTransport } from "../transport/transport.ts";
import { errorResponse } from "./errors.ts";

export function peerRoute(app: Hono, transport: WsTransport): void {
  app.get(
    "/raft",
    async (c, next) => {
      // Peers never send Origin; a browser always does. A web page must not open a peer link.
      if (c.req.header("origin") !== undefined) {
        return errorResponse(
          c,
          new ApiError("unauthorized", "Peer links do not accept browser origins"),
        );
      }
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        return errorResponse(
          c,
          new ApiError("invalid_request", "GET /raft is a WebSocket endpoint for peers"),
        );
      }
      await next();
    },
    upgradeWebSocket(() => ({
      onOpen(_evt, ws) {
        transport.accept(ws.raw as WebSocket);
      },
    })),
  );
}
