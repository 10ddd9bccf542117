// Health, readiness, status and snapshots.

import type { Hono } from "hono";
import type { ApiContext } from "./context.ts";

export function adminRoutes(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get(
    "/readyz",
    (c) =>
      node.ready
        ? c.json({ status: "ready", leader: node.leaderId })
        : c.json({ status: "not_ready", leader: node.leaderId || null }, 503),
  );

  app.get("/admin/status", (c) => c.json(status(ctx)));

  app.post("/admin/snapshot", async (c) => {
    const index = await node.requestSnapshot();
    return c.json({ snapshotIndex: index, appliedIndex: node.sm.appliedIndex });
  });
}

export function status(ctx: ApiContext) {
  const { node } = ctx;
  const raft = node.raft;
  const members = raft.membership.members;
  const lastIndex = raft.log.lastIndex();
  const leader = members.find((m) => m.id === raft.leader);
  return {
    id: node.id,
    clusterId: ctx.clusterId(),
    role: raft.role,
    term: raft.term,
    leader: raft.leader ? { id: raft.leader, url: leader?.url ?? null } : null,
    commitIndex: raft.commit,
    appliedIndex: node.sm.appliedIndex,
    lastLogIndex: lastIndex,
    snapshotIndex: raft.log.snapshot.index,
    counters: { ...node.sm.tallies },
    clock: node.clockStatus,
    members: members.map((m) => {
      const pr = raft.progress.get(m.id);
      const self = m.id === node.id;
      const match = self ? raft.stableIndex : pr?.match ?? null;
      return {
        id: m.id,
        url: m.url,
        voter: m.voter,
        matchIndex: raft.role === "leader" ? match : null,
        lagEntries: raft.role === "leader" && match !== null
          ? Math.max(0, lastIndex - match)
          : null,
        reachable: self ? true : ctx.transport ? ctx.transport.reachable(m.id) : null,
        clockOffsetMs: self ? 0 : clockOffset(ctx, m.id),
      };
    }),
  };
}

/** A peer's clock minus ours, rounded, as this node last measured it (null when unknown). */
function clockOffset(ctx: ApiContext, id: string): number | null {
  const e = ctx.transport?.clockEstimate(id);
  return e ? Math.round(e.offsetMs) : null;
}
