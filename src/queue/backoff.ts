// Retry delays after a nack: exponential with jitter derived from the job, so replicas agree.

import { crc32Text } from "../storage/checksum.ts";

export const backoffBaseMs = 1_000;
export const backoffMaxMs = 60 * 60 * 1_000;

/**
 * The delay before attempt `attempts + 1`: base * 2^(attempts - 1), capped, times a jitter in
 * [0.8, 1.2) computed from the job id and attempt number (never from a random source).
 */
export function retryDelayMs(jobId: string, attempts: number): number {
  const exp = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  const jitter = 0.8 + (crc32Text(`${jobId}#${attempts}`) % 4000) / 10000;
  return Math.round(Math.min(backoffMaxMs, exp * jitter));
}
