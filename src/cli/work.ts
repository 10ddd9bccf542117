// `raftq work --queue Q -- CMD [ARGS]`: a Worker that runs a command per job, for any language.

import { parseFlags } from "./flags.ts";
import { Client } from "../client/client.ts";
import { Worker, type WorkerJob } from "../client/worker.ts";
import { RetryLater } from "../client/job_errors.ts";
import { CannotRunError, type CommandSpec, runCommandJob } from "./command_job.ts";
import type { CliIo } from "./main.ts";
import { parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";

interface WorkArgs {
  urls: string[];
  token?: string;
  queue: string;
  concurrency: number;
  leaseMs: number;
  timeoutMs?: number;
  name?: string;
  spec: CommandSpec;
}

function intFlag(v: string | undefined, name: string, min: number, max: number) {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UsageError(`work: --${name} must be an integer from ${min} to ${max}, got "${v}"`);
  }
  return n;
}

export function parseWorkArgs(argv: string[], env: CliIo["env"]): WorkArgs {
  const split = argv.indexOf("--");
  const [cmd, ...args] = split < 0 ? [] : argv.slice(split + 1);
  if (!cmd) {
    throw new UsageError("work needs a command after --, as in: raftq work --queue q -- ./job.sh");
  }
  const names = [
    "url",
    "token",
    "queue",
    "concurrency",
    "lease",
    "timeout",
    "release-delay",
    "worker",
  ];
  const v = parseFlags("work", {
    args: argv.slice(0, split),
    options: Object.fromEntries(names.map((n) => [n, { type: "string" as const }])),
    strict: true,
  }).values as Record<string, string | undefined>;
  if (!v.queue) throw new UsageError("work needs --queue");
  const urls = (v.url ?? env.RAFTQ_URL ?? "http://127.0.0.1:7400").split(",");
  return {
    urls: urls.map((u) => parseHttpUrl(u.trim(), "--url")),
    token: v.token ?? env.RAFTQ_TOKEN,
    queue: v.queue,
    concurrency: intFlag(v.concurrency, "concurrency", 1, 1000) ?? 1,
    leaseMs: intFlag(v.lease, "lease", 1_000, 12 * 3600_000) ?? 30_000,
    timeoutMs: intFlag(v.timeout, "timeout", 1, 7 * 24 * 3600_000),
    name: v.worker,
    spec: {
      cmd,
      args,
      releaseDelayMs: intFlag(v["release-delay"], "release-delay", 0, 3600_000) ?? 1_000,
    },
  };
}

/** Logs each job's outcome on stderr, one line each. */
function logOutcomes(worker: Worker, io: CliIo): void {
  const line = (job: WorkerJob, what: string) => io.err(`raftq work: job ${job.id} ${what}`);
  worker.on("completed", (job) => line(job, "done"));
  worker.on(
    "failed",
    (job, error, state) =>
      line(job, `failed (${state}): ${(error as Error).message?.split("\n")[0] ?? error}`),
  );
  worker.on("released", (job) => line(job, "released"));
  worker.on("leaseLost", (job, reason) => line(job, `dropped: ${reason}`));
  worker.on("error", (error) => io.err(`raftq work: ${(error as Error).message ?? error}`));
}

/** Runs until SIGTERM or SIGINT (a second one kills running commands and releases their jobs). */
export async function work(argv: string[], io: CliIo): Promise<number> {
  const a = parseWorkArgs(argv, io.env);
  const client = new Client({ urls: a.urls, token: a.token });
  let exitCode = 0;
  let stopRequested = (_timeoutMs: number) => {};
  const worker = new Worker(client, a.queue, async (job) => {
    try {
      return await runCommandJob(a.spec, job);
    } catch (err) {
      if (err instanceof CannotRunError) {
        io.err(`raftq work: ${err.message}`);
        exitCode = 2;
        stopRequested(0);
        throw new RetryLater(0); // the job is given back, its attempt unused
      }
      throw err;
    }
  }, { concurrency: a.concurrency, leaseMs: a.leaseMs, timeoutMs: a.timeoutMs, name: a.name });
  logOutcomes(worker, io);
  const stopped = new Promise<void>((resolve) => {
    stopRequested = (timeoutMs) => void worker.stop({ timeoutMs }).then(resolve);
  });
  let signals = 0;
  const onSignal = () => {
    signals++;
    io.err(
      signals === 1
        ? "raftq work: stopping; running commands may finish (signal again to kill them)"
        : "raftq work: killing running commands and releasing their jobs",
    );
    stopRequested(signals === 1 ? Infinity : 0);
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  worker.start();
  io.err(
    `raftq work: ${worker.name} on queue ${a.queue}, ${a.concurrency} at a time: ${a.spec.cmd}`,
  );
  try {
    await stopped;
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return exitCode;
}
