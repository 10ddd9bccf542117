// A joining learner's catch-up, watched by its progress rather than by a fixed deadline.

import type { NodeId, Raft } from "../raft/mod.ts";

/** How a learner's catch-up looks from the leader (for /admin/status and `raftq status`). */
export interface CatchUp {
  /** `installing`: every snapshot byte is sent; the learner is checking and installing it. */
  state: "probe" | "replicate" | "snapshot" | "installing";
  /** While a snapshot is sent: bytes sent of the whole image (with its trailer). */
  snapshotBytesSent: number | null;
  snapshotBytes: number | null;
  /** Entries the learner still lacks of what was committed when it joined. */
  behindEntries: number;
  /** A rough estimate from the rate so far; null until there is one. */
  etaSeconds: number | null;
  /** The above in a few words, as `raftq status` and the status page show it. */
  summary: string;
}

/** "snapshot 41% of 266 MiB, ~9 s left", "installing a snapshot of 266 MiB", "probe, 3 entries behind". */
function summarize(c: Omit<CatchUp, "summary">): string {
  const eta = c.etaSeconds === null ? "" : `, ~${c.etaSeconds} s left`;
  const mib = Math.ceil((c.snapshotBytes ?? 0) / 1048576);
  if (c.state === "installing") return `installing a snapshot of ${mib} MiB`;
  if (c.state === "snapshot" && c.snapshotBytes) {
    const pct = Math.floor((100 * (c.snapshotBytesSent ?? 0)) / c.snapshotBytes);
    return `snapshot ${pct}% of ${mib} MiB${eta}`;
  }
  return `${c.state}, ${c.behindEntries} entries behind${eta}`;
}

interface Join {
  startedMs: number;
  target: number;
  /** What changes whenever the learner makes progress: match index and snapshot offset. */
  mark: string;
  lastMoveMs: number;
  /** Requests waiting on this join (a joining node that retries asks again). */
  waiters: number;
}

/**
 * Tracks each join in progress. A learner that keeps receiving entries or snapshot bytes keeps
 * its join alive; one that makes none for `stallMs` is given up. Progress is the leader's view
 * (match index, snapshot offset), so it needs no help from the learner.
 */
export class JoinTracker {
  readonly #joins = new Map<NodeId, Join>();

  constructor(
    readonly raft: Raft,
    readonly imageBytes: () => number | null,
    /** The core's snapshot chunk size: the last chunk sent ends the image. */
    readonly chunkBytes: number,
  ) {}

  begin(id: NodeId, nowMs: number): void {
    const join = this.#joins.get(id);
    if (join) {
      join.waiters++;
      return;
    }
    this.#joins.set(id, {
      waiters: 1,
      startedMs: nowMs,
      target: this.raft.commit,
      mark: this.#mark(id),
      lastMoveMs: nowMs,
    });
  }

  end(id: NodeId): void {
    const join = this.#joins.get(id);
    if (join && --join.waiters === 0) this.#joins.delete(id);
  }

  caughtUp(id: NodeId): boolean {
    const join = this.#joins.get(id);
    return join !== undefined && (this.raft.progress.get(id)?.match ?? 0) >= join.target;
  }

  /** Milliseconds since the learner last made progress (0 when it just did). */
  stalledMs(id: NodeId, nowMs: number): number {
    const join = this.#joins.get(id);
    if (!join) return 0;
    const mark = this.#mark(id);
    // Installing a large image takes a while, and its acknowledgement comes only after: that
    // counts as progress (the join's overall timeout still bounds it).
    if (mark !== join.mark || this.#installing(id)) {
      join.mark = mark;
      join.lastMoveMs = nowMs;
    }
    return nowMs - join.lastMoveMs;
  }

  /** Whether the last chunk of the image has been sent to `id`, so it is installing. */
  #installing(id: NodeId): boolean {
    const pr = this.raft.progress.get(id);
    const image = this.imageBytes();
    return pr?.state === "snapshot" && image !== null &&
      pr.snapshotOffset + this.chunkBytes >= image + 48;
  }

  #mark(id: NodeId): string {
    const pr = this.raft.progress.get(id);
    return pr ? `${pr.match}:${pr.state}:${pr.pendingSnapshot}:${pr.snapshotOffset}` : "none";
  }

  /** The catch-up of `id` if it is joining and this node leads; else null. */
  status(id: NodeId, nowMs: number): CatchUp | null {
    const c = this.#status(id, nowMs);
    return c && { ...c, summary: summarize(c) };
  }

  #status(id: NodeId, nowMs: number): Omit<CatchUp, "summary"> | null {
    const join = this.#joins.get(id);
    const pr = this.raft.progress.get(id);
    if (!join || !pr || this.raft.role !== "leader") return null;
    const behindEntries = Math.max(0, join.target - pr.match);
    const elapsedS = (nowMs - join.startedMs) / 1000;
    if (pr.state === "snapshot") {
      const image = this.imageBytes();
      const total = image === null ? null : image + 48;
      const sent = pr.snapshotOffset;
      const eta = total !== null && sent > 0 && elapsedS > 0
        ? Math.round((total - sent) / (sent / elapsedS))
        : null;
      return {
        state: this.#installing(id) ? "installing" : "snapshot",
        snapshotBytesSent: sent,
        snapshotBytes: total,
        behindEntries,
        etaSeconds: eta,
      };
    }
    return {
      state: pr.state,
      snapshotBytesSent: null,
      snapshotBytes: null,
      behindEntries,
      etaSeconds: null,
    };
  }
}
