// An enqueue of default jobs as the log holds it: their payloads alone, the defaults left out.

import type { NewJob } from "./commands.ts";

/**
 * NewJob's optional fields: a job with all of them unset, no delay and priority 0 is a default
 * job, and its payload is all the log needs of it. (A field added to NewJob must be listed here, or the
 * check below fails to compile: a compact entry would drop it.)
 */
export const optionalJobFields = [
  "maxAttempts",
  "idempotencyKey",
  "idempotencyWindowMs",
  "uniqueKey",
  "ttlMs",
  "group",
  "dependsOn",
  "onFailure",
] as const satisfies readonly (keyof NewJob)[];

type Unlisted = Exclude<
  keyof NewJob,
  typeof optionalJobFields[number] | "payload" | "delayMs" | "priority"
>;
const _everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;

/**
 * Whether `job` is all defaults but its payload. Spelled out (a loop over optionalJobFields costs
 * some 100 ns a job); tests/queue/compact_jobs_test.ts holds it to the list.
 */
export function isDefaultJob(job: NewJob): boolean {
  return job.delayMs === 0 && job.priority === 0 && job.maxAttempts === undefined &&
    job.idempotencyKey === undefined && job.idempotencyWindowMs === undefined &&
    job.uniqueKey === undefined && job.ttlMs === undefined && job.group === undefined &&
    job.dependsOn === undefined && job.onFailure === undefined;
}

/**
 * The payloads of `jobs` when every one is a default job, else null. Each such job costs the log
 * its payload and a comma: `{"payload":` and `,"delayMs":0,"priority":0}` were 37 of the ~130
 * bytes a job of a typical batch took, in every entry, frame, WAL page and parse.
 */
export function compactPayloads(jobs: readonly NewJob[]): string[] | null {
  const payloads: string[] = [];
  for (const job of jobs) {
    if (!isDefaultJob(job)) return null;
    payloads.push(job.payload);
  }
  return payloads;
}

/**
 * The jobs `payloads` stand for: each a default job; null if one is not text, or if there are more
 * than `maxJobs` (checked before any job is made).
 */
export function expandPayloads(payloads: unknown, maxJobs: number): NewJob[] | null {
  if (!Array.isArray(payloads) || payloads.length > maxJobs) return null;
  const jobs: NewJob[] = [];
  for (const payload of payloads) {
    if (typeof payload !== "string") return null;
    jobs.push({ payload, delayMs: 0, priority: 0 });
  }
  return jobs;
}
