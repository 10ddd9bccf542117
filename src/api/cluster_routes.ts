// Membership and leadership: add a node (learner, catch up, promote), remove one, transfer.

import type { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { readJson, readOptionalJson } from "./body.ts";
import type { ApiContext } from "./context.ts";

/** How long a new learner may take to catch up before the join is given up. */
export const catchUpTimeoutMs = 60_000;

const idPattern = /^[A-Za-z0-9_.-]{1,64}$/;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `check` holds (polling every 20 ms) or `timeoutMs` passes; returns whether it held. */
async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

/** The body of POST /admin/transfer: none (any up-to-date voter), or `{"to": ID}`. */
function transferTarget(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError("invalid_request", 'The body must be a JSON object such as {"to": "n2"}');
  }
  for (const k of Object.keys(body)) {
    if (k !== "to") throw new ApiError("invalid_request", `unknown field "${k.slice(0, 64)}"`);
  }
  const to = (body as { to?: unknown }).to;
  if (to !== undefined && (typeof to !== "string" || !idPattern.test(to))) {
    throw new ApiError("invalid_request", "to must be a node id (1 to 64 of A-Z a-z 0-9 _ . -)");
  }
  return to;
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

  app.get("/admin/members", (c) => c.json({ members: node.raft.membership.members }));

  app.post("/admin/members", async (c) => {
    const body = await readJson(c, ctx.maxBodyBytes) as Record<string, unknown>;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ApiError("invalid_request", "the body must be a JSON object");
    }
    for (const k of Object.keys(body)) {
      if (k !== "url" && k !== "id") {
        throw new ApiError("invalid_request", `unknown field "${k.slice(0, 64)}"`);
      }
    }
    let url: string;
    try {
      const u = new URL(String(body.url));
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
      url = u.origin;
    } catch {
      throw new ApiError("invalid_request", "url must be the new node's http(s) URL");
    }
    let id = body.id;
    if (id === undefined) {
      // Ask the node itself who it is.
      try {
        const res = await fetch(`${url}/admin/status`, {
          headers: ctx.token ? { authorization: `Bearer ${ctx.token}` } : {},
          signal: AbortSignal.timeout(5_000),
        });
        id = (await res.json()).id;
      } catch {
        throw new ApiError("invalid_request", `could not reach ${url} to learn its id; pass "id"`);
      }
    }
    if (typeof id !== "string" || !idPattern.test(id)) {
      throw new ApiError("invalid_request", "id must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
    }
    const existing = node.raft.membership.members.find((m) => m.id === id);
    if (existing && existing.url !== url) {
      throw new ApiError("conflict", `node ${id} is already a member at ${existing.url}`);
    }
    if (!existing) await node.proposeConfChange({ type: "addLearner", id, url });
    if (!existing?.voter) {
      // A learner first: it receives the log (or a snapshot) without affecting quorum.
      const target = node.raft.commit;
      const learner = id;
      ctx.transport?.refusals.delete(learner);
      const caughtUp = await until(
        () =>
          !node.isLeader || ctx.transport?.refusals.has(learner) === true ||
          (node.raft.progress.get(learner)?.match ?? 0) >= target,
        catchUpTimeoutMs,
      );
      if (!node.isLeader) {
        throw new ApiError("no_leader", "Leadership changed during the join; retry", 1);
      }
      const refusal = ctx.transport?.refusals.get(learner);
      if (!caughtUp || refusal) {
        await node.proposeConfChange({ type: "remove", id, url: "" }).catch(() => {});
        throw new ApiError(
          "conflict",
          refusal
            ? `node ${id} refused this cluster's peer link (${refusal}); it was removed again`
            : `node ${id} did not catch up within ${
              catchUpTimeoutMs / 1000
            } s (unreachable?); it was removed again`,
        );
      }
      await node.proposeConfChange({ type: "promote", id, url });
    }
    return c.json({
      id,
      url,
      voter: true,
      clusterId: ctx.clusterId(),
      members: node.raft.membership.members,
    });
  });

  app.delete("/admin/members/:id", async (c) => {
    const id = c.req.param("id");
    const member = node.raft.membership.members.find((m) => m.id === id);
    if (!member) throw new ApiError("not_found", `node ${id.slice(0, 64)} is not a member`);
    if (id === node.id) {
      // The leader removing itself hands leadership over first; the new leader removes it.
      const to = node.transferLeadership();
      const moved = await until(() => !node.isLeader && node.leaderId === to, 3_000);
      const leader = node.raft.membership.members.find((m) => m.id === to);
      if (!moved || !leader) {
        throw new ApiError("unavailable", `leadership did not move to ${to}; retry`, 1);
      }
      const res = await removeThrough(leader.url, id, ctx);
      if (!res) {
        throw new ApiError("outcome_unknown", `the new leader ${to} could not be reached`, 1);
      }
      return new Response(res.body, {
        status: res.status,
        headers: { "content-type": "application/json", "x-raftq-leader": to },
      });
    }
    await node.proposeConfChange({ type: "remove", id, url: "" });
    return c.json({ removed: id, members: node.raft.membership.members });
  });

  app.post("/admin/transfer", async (c) => {
    const target = node.transferLeadership(
      transferTarget(await readOptionalJson(c, ctx.maxBodyBytes)),
    );
    const moved = await until(() => node.leaderId === target, 3_000);
    if (!moved) {
      throw new ApiError("unavailable", `leadership did not move to ${target} in time`, 1);
    }
    return c.json({ leader: target });
  });
}
