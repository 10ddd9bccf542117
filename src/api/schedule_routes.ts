// Schedules (api.md part 2): set, list, read, delete. Firing is the leader node's (see RaftNode).

import type { Hono } from "hono";
import { nextSlotAfter } from "../queue/schedule_slots.ts";
import { stringifyWithRaw } from "../queue/json_text.ts";
import { RaftqError } from "../errors.ts";
import { expectResult } from "./apply_result.ts";
import { readJson } from "./body.ts";
import type { ApiContext } from "./context.ts";
import * as v from "./validate.ts";

const json = (value: unknown) =>
  new Response(stringifyWithRaw(value), { headers: { "content-type": "application/json" } });

export function scheduleRoutes(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;

  app.put("/v1/schedules/:id", async (c) => {
    const id = v.scheduleId(c.req.param("id"));
    const spec = v.schedule(await readJson(c, ctx.maxBodyBytes, v.opaquePaths.schedule));
    // The first slot, from this (the leader's) clock: replicas take it from the entry.
    const nextRunAt = nextSlotAfter(spec, Date.now());
    const r = await node.propose({ type: "setSchedule", id, spec, nextRunAt });
    return json(expectResult(r, "scheduleSet").schedule);
  });

  app.get("/v1/schedules", async (c) => {
    if (v.consistency(c.req.query("consistency")) === "linearizable") {
      await node.linearizableBarrier();
    }
    return json({ schedules: node.queue.scheduleList() });
  });

  app.get("/v1/schedules/:id", async (c) => {
    const id = v.scheduleId(c.req.param("id"));
    if (v.consistency(c.req.query("consistency")) === "linearizable") {
      await node.linearizableBarrier();
    }
    const schedule = node.queue.schedule(id);
    if (!schedule) throw new RaftqError("not_found", `schedule ${id} does not exist`);
    return json(schedule);
  });

  app.delete("/v1/schedules/:id", async (c) => {
    const id = v.scheduleId(c.req.param("id"));
    expectResult(await node.propose({ type: "deleteSchedule", id }), "scheduleDeleted");
    return c.json({ id, deleted: true });
  });
}
