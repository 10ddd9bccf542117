// GET /metrics (Prometheus text) and the request counting that feeds it.

import type { Context, Hono } from "hono";
import { CounterFn, Gauge } from "../metrics.ts";
import type { NodeStatus } from "../node/facade.ts";
import type { ApiContext } from "./context.ts";
import { metricsStream } from "./queue_metrics.ts";

/** Counts an answered request by route, method and status, and times it from `startedMs`. */
export function countRequest(ctx: ApiContext, c: Context, startedMs: number): void {
  const route = c.req.routePath && c.req.routePath !== "/*" ? c.req.routePath : "unmatched";
  const m = ctx.node.metrics;
  m.requests.inc({ route, method: c.req.method, status: String(c.res.status) });
  m.requestSeconds.observe((performance.now() - startedMs) / 1000, { route });
}

type Series = [Record<string, string>, number][];
type GaugeRow = [string, string, () => Series];
type CounterRow = [string, string, () => number];

export function metricsRoute(app: Hono, ctx: ApiContext): void {
  const { node } = ctx;
  const r = node.metrics.registry;
  /** The node's status, taken once per scrape (every gauge below reads it). */
  let scraped: { at: number; status: NodeStatus } | null = null;
  const st = (): NodeStatus => {
    const now = performance.now();
    if (!scraped || now - scraped.at > 100) scraped = { at: now, status: node.status() };
    return scraped.status;
  };
  const clock: GaugeRow = [
    "raftq_clock_may_lead",
    "1 while this node's clock agrees with a majority of voters' within --max-clock-offset",
    () => one(st().clock.mayLead ? 1 : 0),
  ];
  const gauges = [...raftGauges(st), ...peerGauges(ctx, st), clock, ...memoryGauges()];
  for (const [name, help, read] of gauges) r.add(new Gauge(name, help, read));
  r.add(
    new Gauge(
      "raftq_long_poll_waiters",
      "Requests waiting on this node: claims in a long poll, event streams between events",
      () => {
        const n = ctx.waiters.counts();
        return [[{ kind: "claim" }, n.claims], [{ kind: "events" }, n.events]];
      },
    ),
  );
  const http = ctx.http;
  if (http) {
    r.add(
      new Gauge("raftq_http_connections", "Open HTTP connections (peer links included)", () => [
        [{}, http.stats?.open ?? 0],
      ]),
    );
  }
  const counters = [...tallyCounters(st), ...transportCounters(ctx), ...httpCounters(ctx)];
  for (const [name, help, read] of counters) r.add(new CounterFn(name, help, () => [[{}, read()]]));
  app.get(
    "/metrics",
    (c) =>
      c.body(metricsStream(r.render(), node.queue), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );
}

const one = (v: number): Series => [[{}, v]];
const roles = ["follower", "preCandidate", "candidate", "leader"];

/** This node's Raft state: role, term, indexes, members. */
function raftGauges(st: () => NodeStatus): GaugeRow[] {
  return [
    [
      "raftq_role",
      "1 for this node's current Raft role",
      () => roles.map((role) => [{ role }, st().role === role ? 1 : 0]),
    ],
    ["raftq_term", "Current Raft term", () => one(st().term)],
    ["raftq_is_leader", "1 when this node leads", () => one(st().role === "leader" ? 1 : 0)],
    ["raftq_commit_index", "Highest log index known committed", () => one(st().commitIndex)],
    ["raftq_applied_index", "Highest log index applied to the queue", () => one(st().appliedIndex)],
    ["raftq_last_log_index", "Last index in this node's log", () => one(st().lastLogIndex)],
    [
      "raftq_snapshot_index",
      "Index the log starts after (its last compaction)",
      () => one(st().snapshotIndex),
    ],
    [
      "raftq_image_index",
      "Index of the image a follower behind the log is sent (0: none kept)",
      () => one(st().imageIndex ?? 0),
    ],
    ["raftq_members", "Cluster members by kind", () => {
      const ms = st().members;
      return [
        [{ kind: "voter" }, ms.filter((m) => m.voter).length],
        [{ kind: "learner" }, ms.filter((m) => !m.voter).length],
      ];
    }],
  ];
}

/** Each peer as this node sees it: match index and lag (on a leader), link, clock offset. */
function peerGauges(ctx: ApiContext, st: () => NodeStatus): GaugeRow[] {
  const peers = () => st().members.filter((m) => m.id !== ctx.node.id);
  return [
    [
      "raftq_peer_match_index",
      "Leader's view of each peer's match index",
      () => peers().flatMap((m) => (m.matchIndex === null ? [] : [[{ peer: m.id }, m.matchIndex]])),
    ],
    [
      "raftq_peer_lag_entries",
      "Entries each peer is behind the leader's log",
      () => peers().flatMap((m) => (m.lagEntries === null ? [] : [[{ peer: m.id }, m.lagEntries]])),
    ],
    [
      "raftq_peer_reachable",
      "1 while the link to a peer is open and heard from",
      () => peers().map((m) => [{ peer: m.id }, ctx.transport?.reachable(m.id) ? 1 : 0]),
    ],
    [
      "raftq_peer_clock_offset_seconds",
      "A peer's wall clock minus this node's, as measured over the peer link",
      () =>
        peers().flatMap((m) => {
          const e = ctx.transport?.clockEstimate(m.id);
          return e ? [[{ peer: m.id }, e.offsetMs / 1000]] : [];
        }),
    ],
  ];
}

/** The process's memory, each from Deno.memoryUsage(). */
function memoryGauges(): GaugeRow[] {
  const rows: [string, string, keyof Deno.MemoryUsage][] = [
    ["raftq_process_resident_bytes", "Resident memory of this process", "rss"],
    ["raftq_js_heap_used_bytes", "JavaScript heap in use", "heapUsed"],
    ["raftq_js_heap_total_bytes", "JavaScript heap reserved", "heapTotal"],
    ["raftq_external_bytes", "Memory held outside the JavaScript heap (buffers)", "external"],
  ];
  return rows.map(([name, help, field]) => [name, help, () => one(Deno.memoryUsage()[field])]);
}

/** Counters whose values live in the state machine's own tallies. */
function tallyCounters(st: () => NodeStatus): CounterRow[] {
  const t = (name: string) => () => st().counters[name] ?? 0;
  return [
    ["raftq_jobs_enqueued_total", "Jobs enqueued (applied here)", t("enqueued")],
    ["raftq_jobs_claimed_total", "Job claims (applied here)", t("claimed")],
    ["raftq_jobs_completed_total", "Jobs acked as done (applied here)", t("completed")],
    [
      "raftq_leases_expired_total",
      "Leases that expired without an ack (applied here)",
      t("leasesExpired"),
    ],
    ["raftq_dead_letters_total", "Jobs that became dead (applied here)", t("deadLettered")],
  ];
}

/** The peer transport's tallies: messages, forwarded writes and reads, refusals. */
function transportCounters(ctx: ApiContext): CounterRow[] {
  const s = ctx.transport?.stats;
  if (!s) return [];
  return [
    ["raftq_peer_messages_sent_total", "Raft messages sent to peers", () => s.sent],
    ["raftq_peer_messages_received_total", "Raft messages received from peers", () => s.received],
    [
      "raftq_peer_messages_dropped_total",
      "Raft messages dropped (no link, or a slow peer)",
      () => s.dropped,
    ],
    [
      "raftq_proposals_forwarded_total",
      "Client writes this follower passed to the leader over the peer link",
      () => s.proposalsForwarded,
    ],
    [
      "raftq_proposals_received_total",
      "Client writes followers passed to this leader over the peer link",
      () => s.proposalsReceived,
    ],
    [
      "raftq_reads_forwarded_total",
      "Read index requests this follower sent the leader for linearizable reads",
      () => s.readsForwarded,
    ],
    [
      "raftq_reads_received_total",
      "Read index requests followers sent this leader",
      () => s.readsReceived,
    ],
    ["raftq_peer_frames_invalid_total", "Peer frames refused as malformed", () => s.invalidFrames],
    ["raftq_peer_refused_total", "Peer links refused (secret, cluster, protocol)", () => s.refused],
  ];
}

/** The HTTP connection cap's refusals and evictions. */
function httpCounters(ctx: ApiContext): CounterRow[] {
  const http = ctx.http;
  if (!http) return [];
  return [
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
  ];
}
