// The Hono app: auth, the leader header, every route, and one error mapping for all of them.

import { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { adminRoutes } from "./admin_routes.ts";
import { bearerAuth } from "./auth.ts";
import type { ApiContext } from "./context.ts";
import { errorResponse, toApiError } from "./errors.ts";
import { queueRoutes } from "./queue_routes.ts";

export function createApp(ctx: ApiContext): Hono {
  const app = new Hono();
  app.use("*", bearerAuth(ctx.token, ["/healthz"]));
  app.use("*", async (c, next) => {
    await next();
    const leader = ctx.node.leaderId;
    if (leader) c.header("x-raftq-leader", leader);
  });
  adminRoutes(app, ctx);
  queueRoutes(app, ctx);
  app.notFound((c) =>
    errorResponse(c, new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`))
  );
  app.onError((err, c) =>
    errorResponse(c, toApiError(err, (e) => ctx.logError("request_failed", e)))
  );
  return app;
}
