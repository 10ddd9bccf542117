// POST /v1/flows: a DAG of jobs, created atomically in one log entry.

import type { Hono } from "hono";
import { expectResult } from "./apply_result.ts";
import type { ApiContext } from "./context.ts";
import { flowRequest } from "./flows.ts";
import { readJson } from "./body.ts";

/** Where users' JSON sits in a flow's body (kept as exact text by readJson). */
export const flowOpaquePaths = ["jobs.*.payload"] as const;

export function flowRoutes(app: Hono, ctx: ApiContext): void {
  app.post("/v1/flows", async (c) => {
    const flow = flowRequest(await readJson(c, ctx.maxBodyBytes, flowOpaquePaths));
    const r = expectResult(
      await ctx.node.propose({ type: "flow", jobs: flow.jobs }),
      "flowCreated",
    );
    return c.json({ ids: Object.fromEntries(flow.refs.map((ref, k) => [ref, r.ids[k]])) }, 201);
  });
}
