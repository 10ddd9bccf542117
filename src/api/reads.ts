// What read routes share: the linearizable read point, and answers carrying users' JSON as is.

import type { Context } from "hono";
import { stringifyWithRaw } from "../queue/json_text.ts";
import type { ApiContext } from "./context.ts";
import * as v from "./validate.ts";

/** A JSON answer that carries users' JSON (payloads, results) byte for byte. */
export function withUserJson(c: Context, value: unknown, status: 200 | 201 = 200): Response {
  return c.body(stringifyWithRaw(value), status, { "content-type": "application/json" });
}

/**
 * A page from `rows`, read with one row more than `limit` to tell whether more follow: `next` is
 * the key of the last row shown then (the cursor of the next page), else null.
 */
export function pageOf<T>(rows: T[], limit: number, key: (row: T) => string) {
  const shown = rows.slice(0, limit);
  return { shown, next: rows.length > limit ? key(shown[shown.length - 1]) : null };
}

/** Waits for a linearizable read point unless the client asked for a local (stale) read. */
export async function readBarrier(c: Context, ctx: ApiContext): Promise<void> {
  if (v.consistency(c.req.query("consistency")) === "linearizable") {
    await ctx.node.readPoint();
  }
}
