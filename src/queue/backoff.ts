// Retry delays after a nack: a queue's policy, with jitter derived from the job so replicas agree.

import { crc32Text } from "../storage/checksum.ts";
import { type Backoff, defaultBackoff } from "./queue_config.ts";

/**
 * The delay before attempt `attempts + 1`: exponential (base * 2^(attempts - 1), capped at
 * maxMs) or fixed (base), times a jitter factor in [1 - j, 1 + j) computed from the job id and
 * attempt number (never from a random source). The default policy gives exactly the delays of
 * the versions before policies existed (entries already in logs replay the same).
 */
export function retryDelayMs(jobId: string, attempts: number, policy?: Backoff): number {
  const p = { ...defaultBackoff, ...policy };
  const cap = p.type === "fixed" ? p.baseMs : Math.max(p.baseMs, p.maxMs);
  const raw = p.type === "fixed" ? p.baseMs : p.baseMs * 2 ** Math.max(0, attempts - 1);
  const exp = Math.min(cap, raw);
  const jitter = 1 - p.jitter + ((crc32Text(`${jobId}#${attempts}`) % 4000) / 4000) * 2 * p.jitter;
  return Math.round(Math.min(cap, exp * jitter));
}
