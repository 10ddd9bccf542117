// The Hono app: auth, the leader header, every route, and one error mapping for all of them.

import type { ServerResponse } from "node:http";
import { type Context, Hono } from "hono";
import { RaftqError } from "../errors.ts";
import { adminRoutes } from "./admin_routes.ts";
import { bearerAuth } from "./auth.ts";
import type { ApiContext } from "./context.ts";
import { errorResponse, toRaftqError } from "./errors.ts";
import { queueRoutes } from "./queue_routes.ts";
import { scheduleRoutes } from "./schedule_routes.ts";
import { eventRoutes } from "./event_routes.ts";
import { flowRoutes } from "./flow_routes.ts";
import { clusterRoutes } from "./cluster_routes.ts";
import { forwardToLeader } from "./forward.ts";
import { peerRoutes } from "./peer_route.ts";
import { metricsRoute, requestMetrics } from "./metrics_route.ts";
import { statusPage } from "./status_page.ts";

export function createApp(ctx: ApiContext): Hono {
  const app = new Hono();
  // Peers authenticate on /raft with the cluster secret, not the client token.
  app.use("*", requestMetrics(ctx));
  // The status page holds no data (it asks the API with the token it is given).
  app.use("*", bearerAuth(ctx.token, ["/healthz", "/raft", "/raft/challenge", "/raft/hello", "/"]));
  app.use("*", async (c, next) => {
    const leader = ctx.node.leaderId;
    if (leader) nameLeader(c, leader);
    await next();
  });
  if (ctx.transport) peerRoutes(app, ctx.transport);
  app.use("*", forwardToLeader(ctx));
  adminRoutes(app, ctx);
  metricsRoute(app, ctx);
  statusPage(app, ctx);
  clusterRoutes(app, ctx);
  queueRoutes(app, ctx);
  scheduleRoutes(app, ctx);
  eventRoutes(app, ctx);
  flowRoutes(app, ctx);
  app.notFound((c) =>
    errorResponse(c, new RaftqError("not_found", `No route for ${c.req.method} ${c.req.path}`))
  );
  app.onError((err, c) =>
    errorResponse(c, toRaftqError(err, (e) => ctx.logError("request_failed", e)))
  );
  return app;
}

/**
 * Names the leader in `x-raftq-leader`, before the handler runs (a header added to a finished
 * response makes Hono rebuild it). Served by node:http, on its response itself: node merges it
 * with the handler's headers, and the handler's answer keeps plain headers, which the adapter
 * writes as they are; through Hono's header() every answer would carry a Headers object, built,
 * sorted and copied back into a plain one for each request.
 */
export function nameLeader(c: Context, leader: string): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing && !outgoing.headersSent) outgoing.setHeader("x-raftq-leader", leader);
  else c.header("x-raftq-leader", leader);
}
