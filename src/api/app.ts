// The Hono app: auth, the leader header, every route, and one error mapping for all of them.

import { type Context, Hono } from "hono";
import { RaftqError } from "../errors.ts";
import { adminRoutes } from "./admin_routes.ts";
import { tokenCheck } from "./auth.ts";
import type { ApiContext } from "./context.ts";
import { errorResponse, toRaftqError } from "./errors.ts";
import { queueRoutes } from "./queue_routes.ts";
import { scheduleRoutes } from "./schedule_routes.ts";
import { eventRoutes } from "./event_routes.ts";
import { flowRoutes } from "./flow_routes.ts";
import { clusterRoutes } from "./cluster_routes.ts";
import { forwardToLeader } from "./forward.ts";
import { peerRoutes } from "./peer_route.ts";
import { countRequest, metricsRoute } from "./metrics_route.ts";
import { statusPage } from "./status_page.ts";
import { EdgeRequest } from "../http/request.ts";
import { CachedRouter } from "./cached_router.ts";

/**
 * Paths served without the client token: peers authenticate on /raft with the cluster secret;
 * the status page holds no data (it asks the API with the token it is given).
 */
const openPaths = ["/healthz", "/raft", "/raft/challenge", "/raft/hello", "/"];

export function createApp(ctx: ApiContext): Hono {
  const app = new Hono({ router: new CachedRouter() });
  const refusal = tokenCheck(ctx.token, openPaths);
  // Every request's edge in one middleware (each of Hono's costs a closure, a promise and a match
  // of the router's): counted and timed, its token checked, the leader named.
  app.use("*", async (c, next) => {
    const startedMs = performance.now();
    const refused = refusal(c);
    if (refused) c.res = refused;
    else {
      const leader = ctx.node.leaderId;
      if (leader) nameLeader(c, leader);
      await next();
    }
    countRequest(ctx, c, startedMs);
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
 * response makes Hono rebuild it). Served by the edge, on its request: the edge writes it beside
 * the handler's headers (a handler's own name wins), and the answer keeps plain headers; through
 * Hono's header() every answer would carry a Headers object, built and read back per request.
 */
export function nameLeader(c: Context, leader: string): void {
  const raw = c.req.raw as unknown;
  if (raw instanceof EdgeRequest) raw.leader = leader;
  else c.header("x-raftq-leader", leader);
}
