// Membership and leadership: add a node (learner, catch up, promote), remove one, transfer.

import type { Hono } from "hono";
import { RaftqError } from "../errors.ts";
import { readJson, readOptionalJson } from "./body.ts";
import type { ApiContext } from "./context.ts";
import * as schemas from "./schemas.ts";
import { parse } from "./validate.ts";

const idPattern = schemas.nodeIdPattern;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Transfers leadership and waits until `target` leads. Raft abandons a transfer after one
 * election timeout (a TimeoutNow lost on a reconnecting link, a target briefly unable to
 * campaign); while this node still leads, it asks again until `timeoutMs` is spent.
 */
async function handOver(ctx: ApiContext, to: string | undefined, timeoutMs: number) {
  const { node } = ctx;
  const deadline = Date.now() + timeoutMs;
  let target = node.transferLeadership(to);
  for (;;) {
    const left = deadline - Date.now();
    if (await node.whenLeader(target, Math.min(left, 1_000))) return { moved: true, target };
    if (Date.now() >= deadline) return { moved: false, target };
    if (node.isLeader) target = node.transferLeadership(to ?? target);
  }
}

/**
 * Asks the leader at `url` to remove `id`. A leader only just elected refuses membership changes
 * until its first entry commits (503 unavailable): asked again until it accepts, within the
 * request timeout. Any other answer is the answer.
 */
async function removeThrough(
  url: string,
  id: string,
  ctx: ApiContext,
): Promise<{ status: number; body: Uint8Array<ArrayBuffer> } | null> {
  const deadline = Date.now() + ctx.requestTimeoutMs;
  for (;;) {
    const res = await fetch(`${url}/admin/members/${encodeURIComponent(id)}`, {
      method: "DELETE",
      headers: ctx.token ? { authorization: `Bearer ${ctx.token}` } : {},
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    }).catch(() => null);
    if (!res) return null;
    const body = new Uint8Array(await res.arrayBuffer());
    const refusedForNow = res.status === 503 &&
      /"code":"(unavailable|no_leader)"/.test(new TextDecoder().decode(body));
    if (!refusedForNow || Date.now() + 100 >= deadline) return { status: res.status, body };
    await sleep(100);
  }
}

export function clusterRoutes(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;

  app.get("/admin/members", (c) => c.json({ members: node.members() }));

  app.post("/admin/members", async (c) => {
    const { url, id: given } = parse(schemas.newMember, await readJson(c, ctx.maxBodyBytes));
    const id = given ?? await askId(url, ctx);
    // The learner's peer link tells whether it refused this cluster (secret, cluster id).
    ctx.transport?.refusals.delete(id);
    await node.addMember(id, url, () => ctx.transport?.refusals.get(id));
    return c.json({ id, url, voter: true, clusterId: ctx.clusterId(), members: node.members() });
  });

  app.delete("/admin/members/:id", async (c) => {
    const id = c.req.param("id");
    if (!node.members().some((m) => m.id === id)) {
      throw new RaftqError("not_found", `node ${id.slice(0, 64)} is not a member`);
    }
    if (id !== node.id) {
      await node.removeMember(id);
      return c.json({ removed: id, members: node.members() });
    }
    // The leader removing itself hands leadership over first; the new leader removes it.
    const { moved, target: to } = await handOver(ctx, undefined, 5_000);
    const leader = node.members().find((m) => m.id === to);
    if (!moved || !leader) {
      throw new RaftqError("unavailable", `leadership did not move to ${to}; retry`, 1);
    }
    const res = await removeThrough(leader.url, id, ctx);
    if (!res) {
      throw new RaftqError("outcome_unknown", `the new leader ${to} could not be reached`, 1);
    }
    return new Response(res.body, {
      status: res.status,
      headers: { "content-type": "application/json", "x-raftq-leader": to },
    });
  });

  app.post("/admin/transfer", async (c) => {
    const body = await readOptionalJson(c, ctx.maxBodyBytes);
    const to = body === undefined ? undefined : parse(schemas.transfer, body).to;
    const { moved, target } = await handOver(ctx, to, 5_000);
    if (!moved) {
      throw new RaftqError("unavailable", `leadership did not move to ${target} in time`, 1);
    }
    return c.json({ leader: target });
  });
}

/** Asks the new node itself who it is. */
async function askId(url: string, ctx: ApiContext): Promise<string> {
  let id: unknown;
  try {
    const res = await fetch(`${url}/admin/status`, {
      headers: ctx.token ? { authorization: `Bearer ${ctx.token}` } : {},
      signal: AbortSignal.timeout(5_000),
    });
    id = (await res.json()).id;
  } catch {
    throw new RaftqError("invalid_request", `could not reach ${url} to learn its id; pass "id"`);
  }
  if (typeof id !== "string" || !idPattern.test(id)) {
    throw new RaftqError("invalid_request", `${url} did not name itself; pass "id"`);
  }
  return id;
}
