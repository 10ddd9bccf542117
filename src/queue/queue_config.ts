// A queue's config: the defaults its jobs take when they do not say, and its depth limit.

import { z } from "zod";

const says = (message: string) => ({ error: message });

function int(min: number, max: number) {
  const m = says(`must be an integer from ${min} to ${max}`);
  return z.int(m).min(min, m).max(max, m);
}

const dayMs = 24 * 60 * 60 * 1000;

export const backoffSchema = z.strictObject({
  type: z.enum(["exponential", "fixed"], says('must be "exponential" or "fixed"')),
  baseMs: int(0, 7 * dayMs),
  maxMs: int(0, 7 * dayMs).optional().meta({ description: "exponential only: the cap" }),
  jitter: z.number(says("must be a number from 0 to 1")).min(
    0,
    says("must be a number from 0 to 1"),
  )
    .max(1, says("must be a number from 0 to 1")).optional()
    .meta({
      description: "0..1: each delay is scaled by a factor in [1-j, 1+j) derived from the job",
    }),
}, says("must be a JSON object"));

/** PUT /v1/queues/:queue/config: each field a default for jobs that do not say otherwise. */
export const queueConfigSchema = z.strictObject({
  maxAttempts: int(1, 1000).optional().meta({ description: "default 5" }),
  leaseMs: int(1_000, 12 * 60 * 60 * 1000).optional().meta({
    description: "a claim's lease; default 30 s",
  }),
  backoff: backoffSchema.optional().meta({
    description: "after a nack without retryDelayMs; default exponential, 1 s to 1 h, jitter 0.2",
  }),
  retentionMs: int(1_000, 10 * 365 * dayMs).optional().meta({
    description: "how long finished jobs are kept; default the node's --retention",
  }),
  maxDepth: int(1, 1_000_000_000).optional().meta({
    description:
      "most unfinished jobs (ready, delayed, leased); an enqueue past it is 429 queue_full",
  }),
  concurrency: int(1, 1_000_000).optional().meta({
    description: "most leased jobs in the queue at once",
  }),
  groupConcurrency: int(1, 1_000_000).optional().meta({
    description: "most leased jobs per group at once (1: one at a time, in order)",
  }),
  rateLimit: z.strictObject({
    max: int(1, 1_000_000).meta({ description: "jobs claimed per window" }),
    perMs: int(1, dayMs).meta({ description: "the window, aligned to the leader's clock" }),
  }, says("must be a JSON object")).optional().meta({
    description: "at most max claims per perMs window of the leader-stamped clock",
  }),
}, says("must be a JSON object"));

export type QueueConfig = z.output<typeof queueConfigSchema>;
export type Backoff = z.output<typeof backoffSchema>;

export const defaultBackoff: Required<Backoff> = {
  type: "exponential",
  baseMs: 1_000,
  maxMs: 60 * 60 * 1_000,
  jitter: 0.2,
};
