// Joining a cluster: ask any listed member to add this node, retrying with backoff.

import type { ServeConfig } from "../config.ts";
import { StartupError } from "../errors.ts";
import { defaultTuning } from "./config.ts";
import { messageLimits } from "../raft/mod.ts";
import { readAtMost } from "../buffers.ts";

/**
 * The most bytes of a member's answer a joining node reads: a status lists at most 1,000
 * members of a few hundred bytes each; anything longer is not an answer to trust.
 */
export const joinAnswerMaxBytes = 1024 * 1024;

/** An answer's JSON body, or null when it is not JSON or longer than joinAnswerMaxBytes. */
async function answerJson(res: Response): Promise<Record<string, unknown> | null> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (!res.body || declared > joinAnswerMaxBytes) {
    await res.body?.cancel().catch(() => {});
    return null;
  }
  const bytes = await readAtMost(res.body, joinAnswerMaxBytes);
  if (!bytes) return null;
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    return typeof v === "object" && v !== null ? v as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

export interface JoinResult {
  clusterId: string;
  via: string;
}

/**
 * Posts {id, url} to /admin/members of each join URL in turn (a follower forwards it to the
 * leader) until one answers 200: the leader has added this node as a learner, caught it up and
 * promoted it. Unreachable members and "no leader" answers are retried with jittered backoff;
 * a refusal (401, 409, 400) is final.
 */
export async function joinCluster(
  cfg: ServeConfig,
  nodeId: string,
  log: (event: string, fields: Record<string, unknown>) => void,
  stopped: () => boolean,
): Promise<JoinResult | null> {
  let delayMs = 200;
  let hinted = false;
  for (let attempt = 1; !stopped(); attempt++) {
    const reasons: string[] = [];
    for (const base of cfg.joinUrls) {
      if (stopped()) return null;
      let res: Response;
      try {
        res = await fetch(`${base}/admin/members`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}),
          },
          body: JSON.stringify({ id: nodeId, url: cfg.advertiseUrl }),
          // The leader answers once this node has caught up, however long a large snapshot takes
          // (it gives up itself when the transfer stalls).
          signal: AbortSignal.timeout(defaultTuning.catchUpTimeoutMs + 60_000),
        });
      } catch (err) {
        const reason = (err as Error).message.split("\n")[0];
        reasons.push(`${base}: ${reason}`);
        log("join_retry", { via: base, attempt, reason });
        continue;
      }
      const body = await answerJson(res).catch(() => null);
      if (res.ok && typeof body?.clusterId === "string") {
        return { clusterId: body.clusterId, via: base };
      }
      const error = body?.error as { code?: unknown; message?: unknown } | undefined;
      const code = String(error?.code ?? res.status);
      const message = String(error?.message ?? "");
      if (res.status === 503 || res.status >= 500) {
        log("join_retry", { via: base, attempt, reason: `${code}: ${message}` });
        continue;
      }
      throw new StartupError(`joining through ${base} was refused: ${code}: ${message}`);
    }
    if (!hinted && reasons.length === cfg.joinUrls.length) {
      // Said once, for the person watching: the node keeps retrying.
      hinted = true;
      console.error(
        `raftq: cannot reach any --join URL yet (${
          reasons[0]
        }); still retrying: check the URLs and that a member is running`,
      );
    }
    await new Promise((r) => setTimeout(r, delayMs / 2 + Math.random() * (delayMs / 2)));
    delayMs = Math.min(5_000, delayMs * 2);
  }
  return null;
}

/**
 * The members a joining node may dial before it has the cluster's membership, read from the
 * first --join URL whose /admin/status answers: so the leader sends it the image over a link it
 * dialled itself (whose frames are buffers of their own, let go as soon as they are written).
 * Empty when none answers: the node then waits to be dialled, as before.
 */
export async function joinPeers(
  cfg: ServeConfig,
  nodeId: string,
): Promise<{ id: string; url: string }[]> {
  for (const base of cfg.joinUrls) {
    try {
      const res = await fetch(`${base}/admin/status`, {
        headers: cfg.token ? { authorization: `Bearer ${cfg.token}` } : {},
        signal: AbortSignal.timeout(5_000),
      });
      const body = await answerJson(res).catch(() => null);
      if (!res.ok || !Array.isArray(body?.members)) continue;
      // (no more than a membership may hold: the answer is a peer's, not a trusted one)
      return (body.members as unknown[]).slice(0, messageLimits.maxMembers).flatMap((m) => {
        const { id, url } = (m ?? {}) as { id?: unknown; url?: unknown };
        const valid = typeof id === "string" && typeof url === "string" && id !== nodeId;
        return valid && /^https?:\/\//.test(url) ? [{ id, url }] : [];
      });
    } catch {
      // the next URL
    }
  }
  return [];
}
