// `raftq serve`: starts the node and its HTTP server, and shuts both down cleanly on a signal.

import { createApp } from "./api/app.ts";
import { QueueWaiters } from "./api/long_poll.ts";
import type { ServeConfig } from "./cli/serve_args.ts";
import { createLogger } from "./log.ts";
import { defaultTuning, type NodeTuning } from "./node/config.ts";
import { startNode } from "./node/start.ts";
import { StartupError } from "./storage/errors.ts";
import { VERSION } from "./version.ts";

/** Runs a node until SIGINT/SIGTERM; returns the process exit code. */
export async function serve(cfg: ServeConfig, base: NodeTuning = defaultTuning): Promise<number> {
  const tuning: NodeTuning = { ...base, retentionMs: cfg.retentionMs };
  const logger = createLogger(cfg.logLevel);
  let fatal: Error | null = null;
  let stopServer: () => Promise<void> = async () => {};
  const started = await startNode(cfg, tuning, {
    onFatal(error) {
      fatal = error;
      logger.log("error", "storage_failed", { error: error.message });
      void stopServer();
    },
    onRoleChange(role, term, leader) {
      logger.context.term = term;
      logger.log("info", "role_changed", { role, leader: leader || null });
    },
  });
  const { node, dataDir, clusterId } = started;
  logger.context.node = node.id;
  const waiters = new QueueWaiters();
  node.sm.onReady = (queue) => waiters.wake(queue);
  const app = createApp({
    node,
    clusterId,
    advertiseUrl: cfg.advertiseUrl,
    token: cfg.token,
    maxBodyBytes: cfg.maxBodyBytes,
    waiters,
    logError: (event, error) =>
      logger.log("error", event, { error: error instanceof Error ? error.message : String(error) }),
  });

  const abort = new AbortController();
  let server: Deno.HttpServer;
  try {
    const tls = cfg.tlsCertFile && cfg.tlsKeyFile
      ? { cert: Deno.readTextFileSync(cfg.tlsCertFile), key: Deno.readTextFileSync(cfg.tlsKeyFile) }
      : {};
    server = Deno.serve({
      hostname: cfg.listenHost,
      port: cfg.listenPort,
      signal: abort.signal,
      onListen: () => {},
      ...tls,
    }, app.fetch);
  } catch (err) {
    dataDir.close();
    if (err instanceof Deno.errors.AddrInUse) {
      throw new StartupError(
        `cannot listen on ${cfg.listenHost}:${cfg.listenPort}: the port is in use (another raftq?); pick another --listen`,
      );
    }
    throw new StartupError(
      `cannot listen on ${cfg.listenHost}:${cfg.listenPort}: ${(err as Error).message}`,
    );
  }
  node.start();
  logger.log("info", "node_started", {
    version: VERSION,
    listen: `${cfg.listenHost}:${cfg.listenPort}`,
    advertise: cfg.advertiseUrl,
    data: cfg.dataDir,
    cluster: clusterId,
    bootstrapped: started.bootstrapped,
    auth: cfg.token ? "token" : "none",
  });
  if (cfg.joinUrls.length > 0 && !started.bootstrapped) {
    logger.log("info", "join_ignored", { reason: "this node restarts from its data directory" });
  }

  let stopping = false;
  stopServer = async () => {
    if (stopping) return;
    stopping = true;
    node.stop();
    abort.abort();
    await server.finished.catch(() => {});
    dataDir.close();
  };
  const onSignal = (signal: Deno.Signal) => () => {
    logger.log("info", "shutting_down", { signal });
    void stopServer();
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT")],
    ["SIGTERM", onSignal("SIGTERM")],
  ];
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  await server.finished;
  if (!stopping) await stopServer();
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  logger.log("info", "node_stopped", {});
  return fatal ? 1 : 0;
}
