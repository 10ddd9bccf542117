// GET /v1/queues/:queue/events: every job transition of a queue, as Server-Sent Events.

import type { Hono } from "hono";
import type { ApiContext } from "./context.ts";
import { eventStream } from "./event_stream.ts";
import * as v from "./validate.ts";

export function eventRoutes(app: Hono, ctx: ApiContext): void {
  app.get("/v1/queues/:queue/events", (c) => {
    const queue = v.queueName(c.req.param("queue"));
    const start = v.eventStart(
      c.req.query("from"),
      c.req.header("last-event-id"),
      ctx.node.queue.appliedIndex,
    );
    const body = eventStream(ctx, queue, start, c.req.raw.signal);
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no", // (a proxy in front must not hold the stream back)
      },
    });
  });
}
