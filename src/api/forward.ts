// Forwarding: a follower passes writes and linearizable reads to the leader (over the peer link
// where it can, else by HTTP) and returns its answer.

import type { Context, MiddlewareHandler } from "hono";
import { RaftqError } from "../errors.ts";
import type { ApiContext } from "./context.ts";
import { errorResponse } from "./errors.ts";
import { readRaw } from "./body.ts";
import { limits } from "./validate.ts";

/** Routes every node answers itself, whoever leads. */
const localPaths = new Set([
  "/healthz",
  "/readyz",
  "/admin/status",
  "/admin/backup", // streamed by the leader itself (it answers no_leader elsewhere)
  "/metrics",
  "/openapi.json",
  "/",
  "/raft",
  "/raft/challenge",
  "/raft/hello",
]);

/** Names the forwarding node, with an HMAC only a member can make (see WsTransport). */
export const forwardedHeader = "x-raftq-forwarded-by";

const noLeader = (message = "No leader is known right now") =>
  new RaftqError("no_leader", message, 1);

/** A queue's event stream: every node serves it from its own applied log. */
const eventsPath = /^\/v1\/queues\/[^/]+\/events$/;

function servedLocally(c: Context): boolean {
  if (localPaths.has(c.req.path)) return true;
  if (c.req.method === "GET" && eventsPath.test(c.req.path)) return true;
  return c.req.method === "GET" && c.req.query("consistency") === "local";
}

/**
 * How long a forward may take: the node's request timeout, plus the longest wait the route may
 * legitimately hold (a long-poll claim, a join's catch-up). Past it, a write's outcome is unknown.
 */
function forwardTimeoutMs(c: Context, ctx: ApiContext): number {
  const base = ctx.requestTimeoutMs;
  if (/^\/v1\/jobs\/[^/]+\/wait$/.test(c.req.path)) return base + limits.maxWaitJobMs;
  if (c.req.method !== "POST") return base;
  if (/^\/v1\/queues\/[^/]+\/claim$/.test(c.req.path)) return base + limits.maxWaitMs;
  if (c.req.path === "/admin/members") return base + ctx.catchUpTimeoutMs;
  return base;
}

/**
 * Writes whose route does nothing but validate and propose (and claims, whose long poll waits on
 * this node's applied state): on a follower with an open link to the leader they run here, and
 * the proposal goes over the peer link (see forwarding.ts), with no second HTTP hop.
 */
const peerWrites: [string, RegExp][] = [
  ["POST", /^\/v1\/queues\/[^/]+\/(jobs|batch)$/],
  // A claim's long poll waits here, on this node's applied state; only the claim itself goes.
  ["POST", /^\/v1\/queues\/[^/]+\/claim$/],
  ["POST", /^\/v1\/jobs\/[^/]+\/(ack|nack|extend|release|progress)$/],
  ["DELETE", /^\/v1\/jobs\/[^/]+$/],
  ["POST", /^\/v1\/flows$/],
  // Queue control: a config, a pause, a purge or a dead-letter retry is proposed as is.
  ["PUT", /^\/v1\/queues\/[^/]+\/config$/],
  ["POST", /^\/v1\/queues\/[^/]+\/(pause|resume)$/],
  ["DELETE", /^\/v1\/queues\/[^/]+\/jobs$/],
  ["POST", /^\/v1\/queues\/[^/]+\/dead\/retry$/],
  ["POST", /^\/v1\/queues\/[^/]+\/dead\/[^/]+\/retry$/],
  ["PUT", /^\/v1\/schedules\/[^/]+$/],
  ["DELETE", /^\/v1\/schedules\/[^/]+$/],
];

/** Reads (linearizable: GET /v1/...) served here at a read index the leader gives over the link. */
const peerReads = /^\/v1\//;

function overPeerLink(c: Context, ctx: ApiContext): boolean {
  const leader = ctx.node.leaderId;
  if (!leader || !ctx.transport?.reachable(leader)) return false;
  if (c.req.method === "GET" && peerReads.test(c.req.path)) return true;
  return peerWrites.some(([method, path]) => c.req.method === method && path.test(c.req.path));
}

export function forwardToLeader(ctx: ApiContext): MiddlewareHandler {
  return async (c, next) => {
    const node = ctx.node;
    if (node.isLeader || servedLocally(c) || overPeerLink(c, ctx)) return await next();
    const url = new URL(c.req.url);
    const target = `${url.pathname}${url.search}`;
    const claimed = c.req.header(forwardedHeader);
    if (claimed && ctx.transport?.verifyForward(claimed, c.req.method, target)) {
      // A member forwarded this to us and we do not lead either: never loop. (A header that
      // proves nothing, from a client, is ignored.)
      return errorResponse(c, noLeader());
    }
    const leaderId = node.leaderId;
    const leader = node.members().find((m) => m.id === leaderId);
    if (!leaderId || !leader) return errorResponse(c, noLeader());
    const body = c.req.method === "GET" || c.req.method === "HEAD"
      ? undefined
      : await readRaw(c, ctx.maxBodyBytes);
    const headers = new Headers();
    for (const h of ["authorization", "content-type", "accept"]) {
      const v = c.req.header(h);
      if (v) headers.set(h, v);
    }
    if (ctx.transport) {
      headers.set(forwardedHeader, ctx.transport.signForward(c.req.method, target));
    }
    const timeout = AbortSignal.timeout(forwardTimeoutMs(c, ctx));
    let res: Response;
    try {
      res = await fetch(`${ctx.peerUrlOverride?.(leaderId) ?? leader.url}${target}`, {
        method: c.req.method,
        headers,
        body,
        signal: AbortSignal.any([c.req.raw.signal, timeout]),
      });
    } catch {
      return errorResponse(c, unreachable(c, leaderId, timeout.aborted));
    }
    const out: Record<string, string> = { "x-raftq-leader": leaderId };
    for (const h of ["content-type", "retry-after", "x-raftq-leader", "www-authenticate"]) {
      const v = res.headers.get(h);
      if (v) out[h] = v;
    }
    // (Bytes and a plain header object: node:http writes such a response without re-reading it.)
    return new Response(new Uint8Array(await res.arrayBuffer()), {
      status: res.status,
      headers: out,
    });
  };
}

/** A forward that got no answer: a write may have happened (outcome_unknown), a read did not. */
function unreachable(c: Context, leaderId: string, timedOut: boolean): RaftqError {
  const why = timedOut ? "did not answer in time" : "could not be reached";
  if (c.req.method === "GET") return noLeader(`The leader ${leaderId} ${why}`);
  return new RaftqError(
    "outcome_unknown",
    `The leader ${leaderId} ${why} to confirm the write; retry with the same idempotencyKey`,
    1,
  );
}
