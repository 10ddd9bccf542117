// What the routes need from the running node: the node, its settings, long-poll waiters, a log.

import type { NodeApi } from "../node/facade.ts";
import type { ConnectionStats } from "../http/connection_guard.ts";
import type { BackupImage } from "../storage/backup.ts";
import type { WsTransport } from "../transport/transport.ts";
import type { Waiters } from "./long_poll.ts";

export interface ApiContext {
  node: NodeApi;
  /** The cluster id; null while a joining node has not learned it. */
  clusterId(): string | null;
  token: string | undefined;
  maxBodyBytes: number;
  /** A write not answered by then is outcome_unknown (forwards are bounded by it too). */
  requestTimeoutMs: number;
  /** How long a join may wait for its learner to catch up. */
  catchUpTimeoutMs: number;
  waiters: Waiters;
  /** Requests waiting for a job to end (GET /v1/jobs/:id/wait), by job id. */
  jobWaiters: Waiters;
  logError: (event: string, error: unknown) => void;
  /** The peer transport (absent in tests of the API alone). */
  transport?: WsTransport;
  /** Where to reach a peer when a test routes it elsewhere (RAFTQ_TEST_PEER_URLS); else unset. */
  peerUrlOverride?(id: string): string | undefined;
  /** Makes a consistent image of this node's database for GET /admin/backup. */
  backup?(): Promise<BackupImage>;
  /** The HTTP listener's connection figures, once it listens. */
  http?: { stats: ConnectionStats | null };
}
