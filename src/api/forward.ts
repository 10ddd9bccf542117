// Forwarding: a follower passes writes and linearizable reads to the leader and returns its answer.

import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";
import type { ApiContext } from "./context.ts";
import { errorResponse } from "./errors.ts";
import { readRaw } from "./body.ts";

/** Routes every node answers itself, whoever leads. */
const localPaths = new Set([
  "/healthz",
  "/readyz",
  "/admin/status",
  "/metrics",
  "/",
  "/raft",
  "/raft/challenge",
  "/raft/hello",
]);

export const forwardedHeader = "x-raftq-forwarded-by";

function servedLocally(c: Context): boolean {
  if (localPaths.has(c.req.path)) return true;
  return c.req.method === "GET" && c.req.query("consistency") === "local";
}

export function forwardToLeader(ctx: ApiContext): MiddlewareHandler {
  return async (c, next) => {
    const node = ctx.node;
    if (node.isLeader || servedLocally(c)) return await next();
    if (c.req.header(forwardedHeader)) {
      // Forwarded once already and this node does not lead either: never loop.
      return errorResponse(c, new ApiError("no_leader", "No leader is known right now", 1));
    }
    const leaderId = node.leaderId;
    const leader = node.raft.membership.members.find((m) => m.id === leaderId);
    if (!leaderId || !leader) {
      return errorResponse(c, new ApiError("no_leader", "No leader is known right now", 1));
    }
    const body = c.req.method === "GET" || c.req.method === "HEAD"
      ? undefined
      : await readRaw(c, ctx.maxBodyBytes);
    const url = new URL(c.req.url);
    const headers = new Headers();
    for (const h of ["authorization", "content-type", "accept"]) {
      const v = c.req.header(h);
      if (v) headers.set(h, v);
    }
    headers.set(forwardedHeader, node.id);
    let res: Response;
    try {
      res = await fetch(`${leader.url}${url.pathname}${url.search}`, {
        method: c.req.method,
        headers,
        body,
        signal: c.req.raw.signal,
      });
    } catch {
      const write = c.req.method !== "GET";
      return errorResponse(
        c,
        write
          ? new ApiError(
            "outcome_unknown",
            `The leader ${leaderId} could not be reached to confirm the write; retry with the same idempotencyKey`,
            1,
          )
          : new ApiError("no_leader", `The leader ${leaderId} cannot be reached`, 1),
      );
    }
    const out = new Headers();
    for (const h of ["content-type", "retry-after", "x-raftq-leader", "www-authenticate"]) {
      const v = res.headers.get(h);
      if (v) out.set(h, v);
    }
    if (!out.has("x-raftq-leader")) out.set("x-raftq-leader", leaderId);
    return new Response(await res.arrayBuffer(), { status: res.status, headers: out });
  };
}
