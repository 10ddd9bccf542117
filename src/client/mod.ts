// raftq's client library: the Client, the Worker, their types and errors (no dependencies).

export { Client, type ClientOptions, type JobStateAnswer, type ReadOptions } from "./client.ts";
export * from "./errors.ts";
export type { EventsOptions } from "./events.ts";
export type * from "./types.ts";
export {
  type Handler,
  type LeaseLostReason,
  Worker,
  type WorkerEvents,
  type WorkerJob,
  type WorkerOptions,
  type WorkerStats,
} from "./worker.ts";
export { FinalError, RetryLater } from "./job_errors.ts";
