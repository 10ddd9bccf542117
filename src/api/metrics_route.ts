// GET /metrics (Prometheus text) and the request counting that feeds it.

import type { Hono, MiddlewareHandler } from "hono";
import { CounterFn, Gauge } from "../metrics.ts";
import type { ApiContext } from "./context.ts";

/** Counts every request by route, method and status, and times it. */
export function requestMetrics(ctx: ApiContext): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath && c.req.routePath !== "/*" ? c.req.routePath : "unmatched";
    const m = ctx.node.metrics;
    m.requests.inc({ route, method: c.req.method, status: String(c.res.status) });
    m.requestSeconds.observe((performance.now() - started) / 1000, { route });
  };
}

export function metricsRoute(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;
  const r = node.metrics.registry;
  const raft = node.raft;
  const roles = ["follower", "preCandidate", "candidate", "leader"];
  r.add(
    new Gauge(
      "raftq_role",
      "1 for this node's current Raft role",
      () => roles.map((role) => [{ role }, raft.role === role ? 1 : 0]),
    ),
  );
  r.add(new Gauge("raftq_term", "Current Raft term", () => [[{}, raft.term]]));
  r.add(
    new Gauge("raftq_is_leader", "1 when this node leads", () => [[{}, node.isLeader ? 1 : 0]]),
  );
  r.add(
    new Gauge("raftq_commit_index", "Highest log index known committed", () => [[{}, raft.commit]]),
  );
  r.add(
    new Gauge(
      "raftq_applied_index",
      "Highest log index applied to the queue",
      () => [[{}, node.sm.appliedIndex]],
    ),
  );
  r.add(
    new Gauge(
      "raftq_last_log_index",
      "Last index in this node's log",
      () => [[{}, raft.log.lastIndex()]],
    ),
  );
  r.add(
    new Gauge(
      "raftq_snapshot_index",
      "Index covered by the latest snapshot",
      () => [[{}, raft.log.snapshot.index]],
    ),
  );
  r.add(
    new Gauge("raftq_members", "Cluster members by kind", () => {
      const ms = raft.membership.members;
      return [[{ kind: "voter" }, ms.filter((m) => m.voter).length], [
        { kind: "learner" },
        ms.filter((m) => !m.voter).length,
      ]];
    }),
  );
  r.add(
    new Gauge(
      "raftq_peer_match_index",
      "Leader's view of each peer's match index",
      () =>
        node.isLeader
          ? raft.membership.members.filter((m) => m.id !== node.id).map((
            m,
          ) => [{ peer: m.id }, raft.progress.get(m.id)?.match ?? 0])
          : [],
    ),
  );
  r.add(
    new Gauge(
      "raftq_peer_lag_entries",
      "Entries each peer is behind the leader's log",
      () =>
        node.isLeader
          ? raft.membership.members.filter((m) => m.id !== node.id).map((m) => [
            { peer: m.id },
            Math.max(0, raft.log.lastIndex() - (raft.progress.get(m.id)?.match ?? 0)),
          ])
          : [],
    ),
  );
  r.add(
    new Gauge(
      "raftq_peer_reachable",
      "1 while the link to a peer is open and heard from",
      () =>
        raft.membership.members.filter((m) => m.id !== node.id).map((m) => [
          { peer: m.id },
          ctx.transport?.reachable(m.id) ? 1 : 0,
        ]),
    ),
  );
  r.add(
    new Gauge(
      "raftq_peer_clock_offset_seconds",
      "A peer's wall clock minus this node's, as measured over the peer link",
      () =>
        raft.membership.members.flatMap((m) => {
          const e = m.id === node.id ? null : ctx.transport?.clockEstimate(m.id);
          return e ? [[{ peer: m.id }, e.offsetMs / 1000] as [Record<string, string>, number]] : [];
        }),
    ),
  );
  r.add(
    new Gauge(
      "raftq_clock_may_lead",
      "1 while this node's clock agrees with a majority of voters' within --max-clock-offset",
      () => [[{}, node.clockStatus.mayLead ? 1 : 0]],
    ),
  );
  r.add(
    new Gauge("raftq_queue_jobs", "Jobs by queue and state (this node's applied state)", () => {
      const out: [Record<string, string>, number][] = [];
      for (const q of node.sm.queueStats()) {
        for (const state of ["ready", "delayed", "leased", "done", "dead", "cancelled"] as const) {
          out.push([{ queue: q.name, state }, q[state]]);
        }
      }
      return out;
    }),
  );
  // Counters whose values live in the state machine's and the transport's own tallies.
  const t = node.sm.tallies;
  const counters: [string, string, () => number][] = [
    ["raftq_jobs_enqueued_total", "Jobs enqueued (applied here)", () => t.enqueued],
    ["raftq_jobs_claimed_total", "Job claims (applied here)", () => t.claimed],
    ["raftq_jobs_completed_total", "Jobs acked as done (applied here)", () => t.completed],
    [
      "raftq_leases_expired_total",
      "Leases that expired without an ack (applied here)",
      () => t.leasesExpired,
    ],
    ["raftq_dead_letters_total", "Jobs that became dead (applied here)", () => t.deadLettered],
  ];
  const s = ctx.transport?.stats;
  if (s) {
    counters.push(
      ["raftq_peer_messages_sent_total", "Raft messages sent to peers", () => s.sent],
      ["raftq_peer_messages_received_total", "Raft messages received from peers", () => s.received],
      [
        "raftq_peer_messages_dropped_total",
        "Raft messages dropped (no link, or a slow peer)",
        () => s.dropped,
      ],
      [
        "raftq_peer_frames_invalid_total",
        "Peer frames refused as malformed",
        () => s.invalidFrames,
      ],
      [
        "raftq_peer_refused_total",
        "Peer links refused (secret, cluster, protocol)",
        () => s.refused,
      ],
    );
  }
  const http = ctx.http;
  if (http) {
    r.add(
      new Gauge("raftq_http_connections", "Open HTTP connections (peer links included)", () => [
        [{}, http.stats?.open ?? 0],
      ]),
    );
    counters.push(
      [
        "raftq_http_connections_refused_total",
        "Connections refused at the cap (every connection busy)",
        () => http.stats?.refused ?? 0,
      ],
      [
        "raftq_http_connections_evicted_total",
        "Idle connections closed to make room at the cap",
        () => http.stats?.evicted ?? 0,
      ],
    );
  }
  for (const [name, help, read] of counters) r.add(new CounterFn(name, help, () => [[{}, read()]]));
  app.get(
    "/metrics",
    (c) => c.body(r.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
}
