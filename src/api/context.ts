// What the routes need from the running node: the node, its settings, long-poll waiters, a log.

import type { RaftNode } from "../node/node.ts";
import type { QueueWaiters } from "./long_poll.ts";

export interface ApiContext {
  node: RaftNode;
  clusterId: string;
  advertiseUrl: string;
  token: string | undefined;
  maxBodyBytes: number;
  waiters: QueueWaiters;
  logError: (event: string, error: unknown) => void;
}
