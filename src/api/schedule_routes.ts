// Schedules (api.md part 2): set, list, read, delete. Firing is the leader node's (see RaftNode).

import type { Hono } from "hono";
import { RaftqError } from "../errors.ts";
import { expectResult } from "./apply_result.ts";
import { readJson } from "./body.ts";
import type { ApiContext } from "./context.ts";
import * as v from "./validate.ts";
import { pageOf, readBarrier, withUserJson } from "./reads.ts";

export function scheduleRoutes(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;

  app.put("/v1/schedules/:id", async (c) => {
    const id = v.scheduleId(c.req.param("id"));
    const spec = v.schedule(await readJson(c, ctx.maxBodyBytes, v.opaquePaths.schedule));
    // The leader fills in the first slot from its entry's stamp (see RaftNode), so this goes to
    // the leader over the peer link like any write.
    const r = await node.propose({ type: "setSchedule", id, spec, nextRunAt: null });
    return withUserJson(c, expectResult(r, "scheduleSet").schedule);
  });

  app.get("/v1/schedules", async (c) => {
    const page = v.schedulesPage(c.req.query());
    await readBarrier(c, ctx);
    const rows = node.queue.scheduleList(page.after, page.limit + 1);
    const { shown, next } = pageOf(rows, page.limit, (s) => s.id);
    return withUserJson(c, { schedules: shown, next });
  });

  app.get("/v1/schedules/:id", async (c) => {
    const id = v.scheduleId(c.req.param("id"));
    await readBarrier(c, ctx);
    const schedule = node.queue.schedule(id);
    if (!schedule) throw new RaftqError("not_found", `schedule ${id} does not exist`);
    return withUserJson(c, schedule);
  });

  app.delete("/v1/schedules/:id", async (c) => {
    const id = v.scheduleId(c.req.param("id"));
    expectResult(await node.propose({ type: "deleteSchedule", id }), "scheduleDeleted");
    return c.json({ id, deleted: true });
  });
}
