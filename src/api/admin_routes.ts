// Health, readiness, status, backups, snapshots and the OpenAPI document.

import type { Hono } from "hono";
import { RaftqError } from "../errors.ts";
import { backupStream } from "../storage/backup_file.ts";
import type { ApiContext } from "./context.ts";
import { openApiDocument } from "./openapi.ts";

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

  let openApi: Record<string, unknown> | undefined;
  app.get("/openapi.json", (c) => c.json(openApi ??= openApiDocument()));

  let backingUp = false;
  app.get("/admin/backup", async () => {
    if (!ctx.backup) throw new RaftqError("not_found", "This node cannot make backups");
    // Taken at the leader after a read barrier: every write acknowledged before is in it.
    await node.linearizableBarrier();
    if (backingUp) {
      throw new RaftqError("conflict", "A backup is being made already; retry after it");
    }
    backingUp = true;
    let image;
    try {
      image = await ctx.backup();
    } finally {
      backingUp = false;
    }
    const { meta } = image;
    return new Response(backupStream(image.path, meta, image.remove), {
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition":
          `attachment; filename="raftq-${meta.clusterId}-${meta.appliedIndex}.backup"`,
        "x-raftq-backup-applied-index": String(meta.appliedIndex),
      },
    });
  });

  app.post("/admin/snapshot", async (c) => {
    const index = await node.requestSnapshot();
    return c.json({ snapshotIndex: index, appliedIndex: node.status().appliedIndex });
  });
}

/** The node's status, with what the peer links know of each member (reachable, clock offset). */
export function status(ctx: ApiContext) {
  const s = ctx.node.status();
  return {
    ...s,
    clusterId: ctx.clusterId(),
    members: s.members.map((m) => {
      const self = m.id === s.id;
      return {
        ...m,
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
