// One job run as a command for `raftq work`: payload on stdin, result from stdout, kill on abort.

import { FinalError, RetryLater } from "../client/job_errors.ts";
import type { WorkerJob } from "../client/worker.ts";

/** The exit code that gives a job back without using an attempt (sysexits' EX_TEMPFAIL). */
export const tempFailExit = 75;
/** The most stdout kept as a result (the node refuses bodies over 1 MiB by default). */
const maxStdoutBytes = 512 * 1024;
/** The tail of stderr kept as a nack's error (the API's limit is 10,000 characters). */
const maxErrorChars = 10_000;
/** How long a command has to exit after SIGTERM before it gets SIGKILL. */
const killGraceMs = 5_000;

export interface CommandSpec {
  cmd: string;
  args: string[];
  /** How long a job a command gives back (exit 75) waits before it may be claimed again. */
  releaseDelayMs: number;
}

/** Raised when the command cannot be started at all: the worker should stop, not burn jobs. */
export class CannotRunError extends Error {}

/** Reads a stream to its end, keeping at most the first (or last) `limit` bytes. */
async function drain(stream: ReadableStream<Uint8Array>, limit: number, keep: "head" | "tail") {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    chunks.push(chunk);
    kept += chunk.length;
    while (keep === "tail" && kept - chunks[0].length >= limit) kept -= chunks.shift()!.length;
    if (keep === "head" && kept > limit) kept -= chunks.pop()!.length; // (kept only to count)
  }
  const bytes = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) (bytes.set(c, at), at += c.length);
  return { text: new TextDecoder().decode(bytes), total };
}

/** stdout as the ack's result: its JSON when it parses, else the text (one final newline off). */
function resultOf(stdout: string): unknown {
  if (stdout.trim() === "") return undefined;
  try {
    return JSON.parse(stdout);
  } catch {
    return stdout.endsWith("\n") ? stdout.slice(0, -1) : stdout;
  }
}

function spawn(spec: CommandSpec, job: WorkerJob): Deno.ChildProcess {
  try {
    return new Deno.Command(spec.cmd, {
      args: spec.args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        RAFTQ_JOB_ID: job.id,
        RAFTQ_JOB_ATTEMPT: String(job.attempt),
        RAFTQ_QUEUE: job.queue,
      },
    }).spawn();
  } catch (err) {
    throw new CannotRunError(`cannot run ${spec.cmd}: ${(err as Error).message}`);
  }
}

/** Kills the command when the job's signal aborts: SIGTERM, then SIGKILL after a grace. */
function killOnAbort(child: Deno.ChildProcess, signal: AbortSignal): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const kill = (sig: Deno.Signal) => {
    try {
      child.kill(sig);
    } catch {
      // already exited
    }
  };
  const onAbort = () => {
    kill("SIGTERM");
    timer = setTimeout(() => kill("SIGKILL"), killGraceMs);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  return () => (signal.removeEventListener("abort", onAbort), clearTimeout(timer));
}

/** Runs the command for `job`; its exit decides the outcome (see the README's `raftq work`). */
export async function runCommandJob(spec: CommandSpec, job: WorkerJob): Promise<unknown> {
  const child = spawn(spec, job);
  const stopKilling = killOnAbort(child, job.signal);
  const input = new TextEncoder().encode(JSON.stringify(job.payload));
  const fed = (async () => {
    const writer = child.stdin.getWriter();
    await writer.write(input).catch(() => {}); // a command that does not read its stdin
    await writer.close().catch(() => {});
  })();
  const [stdout, stderr, status] = await Promise.all([
    drain(child.stdout, maxStdoutBytes, "head"),
    drain(child.stderr, maxErrorChars * 4, "tail"),
    child.status,
    fed,
  ]);
  stopKilling();
  if (status.code === 0 && status.signal === null) {
    if (stdout.total > maxStdoutBytes) {
      throw new FinalError(
        `the command wrote ${stdout.total} bytes to stdout (at most ${maxStdoutBytes})`,
      );
    }
    return resultOf(stdout.text);
  }
  if (status.code === tempFailExit) throw new RetryLater(spec.releaseDelayMs);
  const how = status.signal ? `was killed by ${status.signal}` : `exited ${status.code}`;
  const tail = stderr.text.trim().slice(-maxErrorChars + 40);
  throw new Error(tail ? `${how}: ${tail}` : `the command ${how}`);
}
