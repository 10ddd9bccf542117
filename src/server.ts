// `raftq serve`: the node, its peer transport and HTTP server; join, removal and clean shutdown.

import { createApp } from "./api/app.ts";
import type { ConnectionStats } from "./api/connection_guard.ts";
import { createHttpServer, defaultMaxConnections, openFilesLimit } from "./api/http_server.ts";
import { peerUpgrade } from "./api/peer_route.ts";
import { eventsKey, Waiters } from "./api/long_poll.ts";
import type { ServeConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { defaultTuning, type NodeTuning } from "./node/config.ts";
import { joinCluster, joinPeers } from "./node/join.ts";
import { startNode } from "./node/start.ts";
import { bindClusterId, storedClusterId } from "./storage/identity.ts";
import { StorageFatalError } from "./storage/errors.ts";
import { StartupError } from "./errors.ts";
import { makeBackupImage } from "./storage/backup.ts";
import { WsTransport } from "./transport/transport.ts";
import { VERSION } from "./version.ts";

/** How long a leader that is asked to stop waits for its leadership to move. */
const handOverTimeoutMs = 3_000;
/** How long a stopping node lets requests in flight finish. */
const drainTimeoutMs = 2_000;

/** Runs a node until SIGINT/SIGTERM, removal or a fatal error; returns the process exit code. */
export async function serve(cfg: ServeConfig, base: NodeTuning = defaultTuning): Promise<number> {
  const tuning: NodeTuning = {
    ...base,
    tickMs: cfg.heartbeatMs,
    heartbeatTicks: 1,
    electionTicks: Math.round(cfg.electionMs / cfg.heartbeatMs),
    retentionMs: cfg.retentionMs,
    snapshotEveryEntries: cfg.snapshotEveryEntries,
    maxClockOffsetMs: cfg.maxClockOffsetMs,
    logMemoryBytes: cfg.logMemoryBytes,
    logRetainBytes: cfg.logRetainBytes,
  };
  const logger = createLogger(cfg.logLevel, cfg.logFormat);
  const log = logger.log.bind(logger);
  let exitCode = 0;
  let stopServer: (reason: string) => Promise<void> = async () => {};
  const waiters = new Waiters();
  const jobWaiters = new Waiters();
  const fatal = (error: Error) => {
    exitCode = 1;
    const storage = error instanceof StorageFatalError;
    log("error", storage ? "storage_failed" : "node_failed", { error: error.message });
    void stopServer(storage ? "storage failure" : "internal error");
  };
  const started = await startNode(cfg, tuning, {
    onJobsReady: (queue) => waiters.wake(queue),
    onEvents: (queue) => waiters.wake(eventsKey(queue)),
    jobWatch: jobWaiters,
    onFatal: fatal,
    onApplyFailed(index, message) {
      log("warn", "entry_apply_failed", { index, error: message });
    },
    onClockVerdict(verdict, maxOffsetMs) {
      if (verdict.mayLead) {
        log("info", "clock_offset_ok", { agreeing: verdict.agreeing, maxOffsetMs });
      } else if (verdict.beyond.length === 0) {
        // Not enough recent readings yet (links still opening, peers down): nothing is wrong.
        log("debug", "clock_unconfirmed", { agreeing: verdict.agreeing, maxOffsetMs });
      } else {
        log("warn", "clock_offset_excessive", {
          reason:
            `this node's clock is further than ${maxOffsetMs} ms from a majority of voters'; it refuses to lead until it is not (check NTP)`,
          beyond: verdict.beyond,
          agreeing: verdict.agreeing,
          maxOffsetMs,
        });
      }
    },
    onRoleChange(role, term, leader) {
      logger.context.term = term;
      log("info", "role_changed", { role, leader: leader || null });
    },
    onMembershipChange(change) {
      log("info", "membership_changed", {
        change: change.type,
        member: change.id,
        url: change.url || null,
      });
    },
    onSnapshot(kind, index) {
      log("info", `snapshot_${kind}`, { index });
    },
    onRemoved() {
      log("warn", "removed_from_cluster", {
        reason:
          "this node applied its own removal; it stops serving (start it with an empty --data to join again)",
      });
      void stopServer("removed from the cluster");
    },
  });
  const { node, dataDir, storage } = started;
  logger.context.node = node.id;
  let clusterId = storedClusterId(storage) ?? null;
  const peerUrlOverrides = readPeerUrlOverrides(log);

  /** The members a joining node dials before it has the membership (see joinPeers). */
  let earlyPeers: { id: string; url: string }[] = [];
  const transport = new WsTransport({
    selfId: node.id,
    secret: cfg.clusterSecret ?? "",
    clusterId: () => clusterId,
    adoptClusterId: (id) => {
      if (clusterId !== null) return clusterId === id;
      if (!started.joining) return false;
      bindClusterId(storage, id);
      clusterId = id;
      log("info", "cluster_adopted", { cluster: id });
      return true;
    },
    // (a joining node knows no members until the image arrives: it dials those its --join
    // URL lists meanwhile)
    peers: () => {
      const members = node.members();
      return (members.length > 0 ? members : earlyPeers).filter((m) => m.id !== node.id)
        .map((m) => ({ id: m.id, url: peerUrlOverrides[m.id] ?? m.url }));
    },
    onMessage: (m) => node.receive(m),
    onProposal: (cmd, from) => node.acceptForwarded(cmd, from),
    onReadIndex: (from) => node.acceptReadIndex(from),
    log: (level, event, fields) => log(level, event, fields),
  });
  node.transport = transport;

  const httpStats: { stats: ConnectionStats | null } = { stats: null };
  const app = createApp({
    node,
    clusterId: () => clusterId,
    token: cfg.token,
    maxBodyBytes: cfg.maxBodyBytes,
    requestTimeoutMs: tuning.requestTimeoutMs,
    catchUpTimeoutMs: tuning.catchUpTimeoutMs,
    peerUrlOverride: (id) => peerUrlOverrides[id],
    backup: () => makeBackupImage(dataDir.db.path, cfg.dataDir),
    waiters,
    jobWaiters,
    transport,
    http: httpStats,
    logError: (event, error) =>
      log("error", event, { error: error instanceof Error ? error.message : String(error) }),
  });

  const fileLimit = openFilesLimit();
  const maxConnections = defaultMaxConnections(cfg.maxConnections, fileLimit);
  const server = createHttpServer({
    fetch: app.fetch,
    maxConnections,
    tls: cfg.tlsCertFile && cfg.tlsKeyFile
      ? { cert: Deno.readTextFileSync(cfg.tlsCertFile), key: Deno.readTextFileSync(cfg.tlsKeyFile) }
      : undefined,
    onUpgrade: peerUpgrade(transport),
    onError: (event, error) =>
      log("error", event, { error: error instanceof Error ? error.message : String(error) }),
  });
  httpStats.stats = server.stats;
  try {
    await server.listen(cfg.listenHost, cfg.listenPort);
  } catch (err) {
    dataDir.close();
    if ((err as { code?: string }).code === "EADDRINUSE") {
      throw new StartupError(
        `cannot listen on ${cfg.listenHost}:${cfg.listenPort}: the port is in use (another raftq?); pick another --listen`,
      );
    }
    throw new StartupError(
      `cannot listen on ${cfg.listenHost}:${cfg.listenPort}: ${(err as Error).message}`,
    );
  }
  node.start();
  transport.start();
  dataDir.db.checkpointOffLoop((error) => log("warn", "checkpoint_failed", { error }));
  // A large file was opened unchecked: its quick_check runs now, and damage stops the node.
  dataDir.db.checkDeferred().then(
    (damage) => damage && fatal(new StorageFatalError(damage)),
    (err) => log("warn", "integrity_check_failed", { error: (err as Error).message }),
  );
  log("info", "node_started", {
    version: VERSION,
    listen: `${cfg.listenHost}:${cfg.listenPort}`,
    advertise: cfg.advertiseUrl,
    data: cfg.dataDir,
    cluster: clusterId,
    bootstrapped: started.bootstrapped,
    joining: started.joining,
    auth: cfg.token ? "token" : "none",
    maxConnections,
    openFilesLimit: fileLimit,
    peerAuth: cfg.clusterSecret ? "cluster-secret" : "none (loopback only)",
  });
  if (cfg.joinUrls.length > 0 && !started.joining) {
    log("info", "join_ignored", { reason: "this node restarts from its data directory" });
  }

  let stopping = false;
  let finish = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  stopServer = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting_down", { reason });
    if (node.isLeader && node.members().filter((m) => m.voter).length > 1) {
      // Hand leadership over first, so the cluster does not wait an election timeout.
      try {
        const to = node.transferLeadership();
        const done = await node.whenLeader(to, handOverTimeoutMs);
        log("info", "leadership_handed_over", { to, done });
      } catch (err) {
        log("warn", "leadership_handover_failed", { error: (err as Error).message });
      }
    }
    node.stop();
    transport.stop();
    // Let requests in flight finish (a removal's own answer, a forwarded write), briefly.
    await server.close(drainTimeoutMs).catch((err) => {
      log("warn", "http_close_failed", { error: (err as Error).message });
    });
    await dataDir.db.stopCheckpoints();
    dataDir.close();
    finish();
  };

  if (started.joining) {
    joinPeers(cfg, node.id).then((peers) => (earlyPeers = peers), () => {});
    joinCluster(cfg, node.id, (event, fields) => log("info", event, fields), () => stopping)
      .then((r) => {
        if (!r) return;
        if (clusterId === null) {
          bindClusterId(storage, r.clusterId);
          clusterId = r.clusterId;
        } else if (clusterId !== r.clusterId) {
          throw new StartupError(`joined cluster ${r.clusterId} but peered with ${clusterId}`);
        }
        log("info", "joined", { cluster: r.clusterId, via: r.via });
      })
      .catch((err) => {
        exitCode = 2;
        log("error", "join_failed", { error: (err as Error).message });
        console.error(`raftq: ${(err as Error).message}`);
        void stopServer("join failed");
      });
  }

  const onSignal = (signal: Deno.Signal) => () => void stopServer(signal);
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT")],
    ["SIGTERM", onSignal("SIGTERM")],
  ];
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  await finished;
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  log("info", "node_stopped", { exitCode });
  return exitCode;
}

/**
 * RAFTQ_TEST_PEER_URLS, a JSON object {peerId: url}, makes this node reach those peers (its
 * links, and requests it forwards to them) at other addresses: the partition tests route them
 * through proxies they control. It changes nothing else, and nothing at all when unset.
 */
function readPeerUrlOverrides(
  log: (level: "warn", event: string, fields: Record<string, unknown>) => void,
): Record<string, string> {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("RAFTQ_TEST_PEER_URLS");
  } catch {
    return {};
  }
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
    const out: Record<string, string> = {};
    for (const [id, url] of Object.entries(parsed)) if (typeof url === "string") out[id] = url;
    log("warn", "peer_url_overrides", { peers: Object.keys(out) });
    return out;
  } catch {
    throw new StartupError("RAFTQ_TEST_PEER_URLS must be a JSON object of peer id to URL");
  }
}
