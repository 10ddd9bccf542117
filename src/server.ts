// `raftq serve`: the node, its peer transport and HTTP server; join, removal and clean shutdown.

import { createApp } from "./api/app.ts";
import type { ConnectionStats } from "./http/connection_guard.ts";
import { createHttpServer, type HttpServer } from "./http/server.ts";
import { defaultMaxConnections, openFilesLimit } from "./http/limits.ts";
import { peerUpgrade } from "./api/peer_route.ts";
import { Waiters } from "./api/long_poll.ts";
import type { ServeConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { defaultTuning, type NodeTuning } from "./node/config.ts";
import { joinCluster, joinPeers } from "./node/join.ts";
import { type StartedNode, startNode } from "./node/start.ts";
import { bindClusterId, storedClusterId } from "./storage/identity.ts";
import { StorageFatalError } from "./storage/errors.ts";
import { StartupError } from "./errors.ts";
import { makeBackupImage } from "./storage/backup.ts";
import { WsTransport } from "./transport/transport.ts";
import { VERSION } from "./version.ts";
import { nodeEvents } from "./serve_events.ts";
import { startQuietTrim } from "./native_memory.ts";

/** How long a leader that is asked to stop waits for its leadership to move. */
const handOverTimeoutMs = 3_000;
/** How long a stopping node lets requests in flight finish. */
const drainTimeoutMs = 2_000;

/** Runs a node until SIGINT/SIGTERM, removal or a fatal error; returns the process exit code. */
export async function serve(cfg: ServeConfig, base: NodeTuning = defaultTuning): Promise<number> {
  return await new ServeRun(cfg, tuningFor(cfg, base)).run();
}

/** The node's tuning: the defaults, with what the command line sets. */
function tuningFor(cfg: ServeConfig, base: NodeTuning): NodeTuning {
  return {
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
}

/** The parts a running node stops, in order. */
interface Parts {
  started: StartedNode;
  transport: WsTransport;
  server: HttpServer;
  /** Gives freed C heap back once writes pause (null where the C library cannot). */
  trim: { stop(): Promise<void> } | null;
}

/** One `raftq serve` from start to stop, and what its parts share. */
class ServeRun {
  exitCode = 0;
  readonly logger: Logger;
  readonly log: Logger["log"];
  readonly waiters = new Waiters();
  readonly jobWaiters = new Waiters();
  /** The cluster this node belongs to; null while a joining node has not learned it yet. */
  clusterId: string | null = null;
  /** The members a joining node dials before it has the membership (see joinPeers). */
  earlyPeers: { id: string; url: string }[] = [];
  stopping = false;
  /** Stops the node; nothing until it serves (an event before then only logs). */
  #stop: (reason: string) => Promise<void> = async () => {};

  constructor(readonly cfg: ServeConfig, readonly tuning: NodeTuning) {
    this.logger = createLogger(cfg.logLevel, cfg.logFormat);
    this.log = this.logger.log.bind(this.logger);
  }

  stop(reason: string): void {
    void this.#stop(reason);
  }

  fatal(error: Error): void {
    this.exitCode = 1;
    const storage = error instanceof StorageFatalError;
    this.log("error", storage ? "storage_failed" : "node_failed", { error: error.message });
    this.stop(storage ? "storage failure" : "internal error");
  }

  async run(): Promise<number> {
    const started = await startNode(this.cfg, this.tuning, nodeEvents(this));
    const { node, dataDir, storage } = started;
    this.logger.context.node = node.id;
    this.clusterId = storedClusterId(storage) ?? null;
    const overrides = readPeerUrlOverrides(this.log);
    const transport = peerTransport(this, started, overrides);
    node.transport = transport;
    const { server, maxConnections, fileLimit } = httpServer(this, started, transport, overrides);
    await listen(server, this.cfg, started);
    node.start();
    transport.start();
    const trim = startQuietTrim(() => node.raft.log.lastIndex());
    dataDir.db.checkpointOffLoop((error) => this.log("warn", "checkpoint_failed", { error }));
    // A large file was opened unchecked: its quick_check runs now, and damage stops the node.
    dataDir.db.checkDeferred().then(
      (damage) => damage && this.fatal(new StorageFatalError(damage)),
      (err) => this.log("warn", "integrity_check_failed", { error: (err as Error).message }),
    );
    logStarted(this, started, { maxConnections, openFilesLimit: fileLimit });
    const stopped = new Promise<void>((resolve) => {
      this.#stop = async (reason) => {
        if (this.stopping) return;
        this.stopping = true;
        await shutDown(this, { started, transport, server, trim }, reason);
        resolve();
      };
    });
    if (started.joining) join(this, started);
    await untilStopped(stopped, (signal) => this.stop(signal));
    this.log("info", "node_stopped", { exitCode: this.exitCode });
    return this.exitCode;
  }
}

function peerTransport(
  run: ServeRun,
  started: StartedNode,
  overrides: Record<string, string>,
): WsTransport {
  const { node, storage } = started;
  return new WsTransport({
    selfId: node.id,
    secret: run.cfg.clusterSecret ?? "",
    clusterId: () => run.clusterId,
    adoptClusterId: (id) => {
      if (run.clusterId !== null) return run.clusterId === id;
      if (!started.joining) return false;
      bindClusterId(storage, id);
      run.clusterId = id;
      run.log("info", "cluster_adopted", { cluster: id });
      return true;
    },
    // (a joining node knows no members until the image arrives: it dials those its --join
    // URL lists meanwhile)
    peers: () => {
      const members = node.members();
      return (members.length > 0 ? members : run.earlyPeers).filter((m) => m.id !== node.id)
        .map((m) => ({ id: m.id, url: overrides[m.id] ?? m.url }));
    },
    onMessage: (m) => node.receive(m),
    onProposal: (cmd, from) => node.acceptForwarded(cmd, from),
    onReadIndex: (from) => node.acceptReadIndex(from),
    log: (level, event, fields) => run.log(level, event, fields),
  });
}

/** The API app on its HTTP server (not yet listening), with the connection cap it holds. */
function httpServer(
  run: ServeRun,
  { node, dataDir }: StartedNode,
  transport: WsTransport,
  overrides: Record<string, string>,
) {
  const { cfg, tuning } = run;
  const logError = (event: string, error: unknown) =>
    run.log("error", event, { error: error instanceof Error ? error.message : String(error) });
  const httpStats: { stats: ConnectionStats | null } = { stats: null };
  const app = createApp({
    node,
    clusterId: () => run.clusterId,
    token: cfg.token,
    maxBodyBytes: cfg.maxBodyBytes,
    requestTimeoutMs: tuning.requestTimeoutMs,
    catchUpTimeoutMs: tuning.catchUpTimeoutMs,
    peerUrlOverride: (id) => overrides[id],
    backup: () => makeBackupImage(dataDir.db.path, cfg.dataDir),
    waiters: run.waiters,
    jobWaiters: run.jobWaiters,
    transport,
    http: httpStats,
    logError,
  });
  const fileLimit = openFilesLimit();
  const maxConnections = defaultMaxConnections(cfg.maxConnections, fileLimit);
  const server = createHttpServer({
    fetch: app.fetch,
    maxConnections,
    maxBodyBytes: cfg.maxBodyBytes,
    tls: cfg.tlsCertFile && cfg.tlsKeyFile
      ? { cert: Deno.readTextFileSync(cfg.tlsCertFile), key: Deno.readTextFileSync(cfg.tlsKeyFile) }
      : undefined,
    onUpgrade: peerUpgrade(transport),
    onError: logError,
  });
  httpStats.stats = server.stats;
  return { server, maxConnections, fileLimit };
}

/** Listens on --listen, or closes the data directory and says why it cannot. */
async function listen(server: HttpServer, cfg: ServeConfig, { dataDir }: StartedNode) {
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
}

function logStarted(
  run: ServeRun,
  started: StartedNode,
  limits: { maxConnections: number; openFilesLimit: number | null },
): void {
  const { cfg } = run;
  run.log("info", "node_started", {
    version: VERSION,
    listen: `${cfg.listenHost}:${cfg.listenPort}`,
    advertise: cfg.advertiseUrl,
    data: cfg.dataDir,
    cluster: run.clusterId,
    bootstrapped: started.bootstrapped,
    joining: started.joining,
    auth: cfg.token ? "token" : "none",
    ...limits,
    peerAuth: cfg.clusterSecret ? "cluster-secret" : "none (loopback only)",
  });
  if (cfg.joinUrls.length > 0 && !started.joining) {
    run.log("info", "join_ignored", { reason: "this node restarts from its data directory" });
  }
}

/** Hands leadership over, stops the node and its links, drains HTTP, closes the data directory. */
async function shutDown(run: ServeRun, parts: Parts, reason: string): Promise<void> {
  const { node, dataDir } = parts.started;
  run.log("info", "shutting_down", { reason });
  if (node.isLeader && node.members().filter((m) => m.voter).length > 1) {
    // Hand leadership over first, so the cluster does not wait an election timeout.
    try {
      const to = node.transferLeadership();
      const done = await node.whenLeader(to, handOverTimeoutMs);
      run.log("info", "leadership_handed_over", { to, done });
    } catch (err) {
      run.log("warn", "leadership_handover_failed", { error: (err as Error).message });
    }
  }
  node.stop();
  parts.transport.stop();
  // Let requests in flight finish (a removal's own answer, a forwarded write), briefly.
  await parts.server.close(drainTimeoutMs).catch((err) => {
    run.log("warn", "http_close_failed", { error: (err as Error).message });
  });
  await parts.trim?.stop();
  await dataDir.db.stopCheckpoints();
  dataDir.close();
}

/** An empty node joins through --join: it dials the members listed, then asks to be added. */
function join(run: ServeRun, { node, storage }: StartedNode): void {
  joinPeers(run.cfg, node.id).then((peers) => (run.earlyPeers = peers), () => {});
  const logJoin = (event: string, fields?: Record<string, unknown>) =>
    run.log("info", event, fields);
  joinCluster(run.cfg, node.id, logJoin, () => run.stopping)
    .then((r) => {
      if (!r) return;
      if (run.clusterId === null) {
        bindClusterId(storage, r.clusterId);
        run.clusterId = r.clusterId;
      } else if (run.clusterId !== r.clusterId) {
        throw new StartupError(`joined cluster ${r.clusterId} but peered with ${run.clusterId}`);
      }
      run.log("info", "joined", { cluster: r.clusterId, via: r.via });
    })
    .catch((err) => {
      run.exitCode = 2;
      run.log("error", "join_failed", { error: (err as Error).message });
      console.error(`raftq: ${(err as Error).message}`);
      run.stop("join failed");
    });
}

/** Waits for `stopped`, asking `stop` on SIGINT or SIGTERM meanwhile. */
async function untilStopped(stopped: Promise<void>, stop: (signal: string) => void) {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => [signal, () => stop(signal)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  await stopped;
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
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
