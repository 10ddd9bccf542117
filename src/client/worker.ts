// Worker: claims jobs for a handler, keeps their leases, settles each one once, stops cleanly.

import type { Client } from "./client.ts";
import { Emitter } from "./emitter.ts";
import {
  CancelledError,
  InvalidRequestError,
  LeaseMismatchError,
  NotFoundError,
} from "./errors.ts";
import { FinalError, RetryLater } from "./job_errors.ts";
import type { ClaimedJob, JobState } from "./types.ts";

/** A claimed job as a handler sees it. */
export interface WorkerJob<P = unknown> extends ClaimedJob<P> {
  queue: string;
  /** Aborted when the lease is lost, the job cancelled, the handler timed out or the worker stops. */
  signal: AbortSignal;
  /** Reports progress (shown by GET /v1/jobs/:id); throws CancelledError if the job was cancelled. */
  progress(value: unknown): Promise<void>;
}

/** Its return value becomes the ack's result; a throw a nack (see FinalError, RetryLater). */
export type Handler<P = unknown, R = unknown> = (job: WorkerJob<P>) => R | Promise<R>;

export interface WorkerOptions {
  /** Handlers running at once (default 1); claims ask for the free slots only. */
  concurrency?: number;
  /** Each lease, renewed about every third of it while the handler runs (default 30 s). */
  leaseMs?: number;
  /** A handler still running after this is aborted and its job nacked (default: no limit). */
  timeoutMs?: number;
  /** How long a claim waits for work (long poll, default 20 s). */
  waitMs?: number;
  /** The worker's name on the jobs it leases. */
  name?: string;
}

export type LeaseLostReason = "lease_mismatch" | "cancelled" | "not_found";

export type WorkerEvents = {
  completed: (job: WorkerJob, result: unknown) => void;
  /** `state` is where the nack left the job: ready, delayed or dead. */
  failed: (job: WorkerJob, error: unknown, state: JobState) => void;
  /** Given back without using an attempt (RetryLater, or the worker stopping). */
  released: (job: WorkerJob) => void;
  /** The job is no longer this worker's: its handler was aborted and its outcome dropped. */
  leaseLost: (job: WorkerJob, reason: LeaseLostReason) => void;
  /** A claim, renewal or settlement that failed for another reason (the worker goes on). */
  error: (error: unknown) => void;
};

export interface WorkerStats {
  claimed: number;
  completed: number;
  failed: number;
  released: number;
  leaseLost: number;
  running: number;
}

/** One job in a slot, from its claim until its handler returns. */
interface Run {
  view: WorkerJob;
  controller: AbortController;
  /** Acked, nacked, released or lost: nothing more is sent for it. */
  settled: boolean;
  timers: ReturnType<typeof setTimeout>[];
  done?: Promise<void>;
}

const maxErrorChars = 10_000;
/** How long stop() lets a claim in flight answer before cutting it short. */
const claimGraceMs = 1_000;

function lostReason(error: unknown): LeaseLostReason | null {
  if (error instanceof CancelledError) return "cancelled";
  if (error instanceof LeaseMismatchError) return "lease_mismatch";
  if (error instanceof NotFoundError) return "not_found";
  return null;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

/** A moment that later calls may bring closer, never push back. */
class Deadline {
  #atMs = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolve!: (value: "late") => void;
  readonly reached: Promise<"late"> = new Promise((resolve) => (this.#resolve = resolve));

  bringTo(inMs: number): void {
    const atMs = Date.now() + inMs;
    if (!(atMs < this.#atMs)) return; // (Infinity, or not sooner)
    this.#atMs = atMs;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#resolve("late"), Math.max(0, inMs));
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Runs `handler` on the jobs of `queue`, up to `concurrency` at once. At least once: a job whose
 * lease ran out (a worker that died) is handled again elsewhere; exactly once completed: an ack
 * with a lost lease is refused, and this worker then drops the handler's result.
 */
export class Worker<P = unknown, R = unknown> extends Emitter<WorkerEvents> {
  readonly name: string;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #waitMs: number;
  readonly #timeoutMs: number | undefined;
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  readonly #runs = new Map<string, Run>();
  readonly #stats = { claimed: 0, completed: 0, failed: 0, released: 0, leaseLost: 0 };
  #claiming = new AbortController();
  #slotFreed: (() => void) | null = null;
  #loop: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | null = null;
  readonly #grace = new Deadline();
  /** The server refused an ack's next claim (an older version): acks alone from then on. */
  #plainAcks = false;

  constructor(
    readonly client: Client,
    readonly queue: string,
    readonly handler: Handler<P, R>,
    options: WorkerOptions = {},
  ) {
    super();
    this.#concurrency = options.concurrency ?? 1;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#waitMs = options.waitMs ?? 20_000;
    this.#timeoutMs = options.timeoutMs;
    this.name = options.name ?? `worker-${crypto.randomUUID().slice(0, 8)}`;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError("concurrency must be an integer of at least 1");
    }
  }

  get stats(): WorkerStats {
    return { ...this.#stats, running: this.#runs.size };
  }

  get running(): boolean {
    return this.#state === "running";
  }

  /** Starts claiming. */
  start(): this {
    if (this.#state !== "idle") throw new Error(`the worker is ${this.#state}`);
    this.#state = "running";
    this.#loop = this.#claimLoop();
    return this;
  }

  /**
   * Stops claiming, waits up to `timeoutMs` (default 30 s; `Infinity` for as long as they take)
   * for running handlers to settle their jobs, then aborts the rest and releases their jobs
   * without using an attempt. A later call may bring that moment closer (a second Ctrl-C: 0).
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === "idle") this.#state = "stopped";
    this.#grace.bringTo(options.timeoutMs ?? 30_000);
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = "stopping";
    this.#slotFreed?.();
    // A claim in flight may have leased jobs already: its answer gets a moment to arrive (its
    // jobs are then released unused); a long poll still waiting after that is cut short.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<"cut">((
      resolve,
    ) => (timer = setTimeout(resolve, claimGraceMs, "cut")));
    if (await Promise.race([this.#loop, grace]) === "cut") {
      this.#claiming.abort();
      await this.#loop;
    }
    clearTimeout(timer);
    const handlers = Promise.all([...this.#runs.values()].map((r) => r.done));
    const outcome = await Promise.race([handlers, this.#grace.reached]);
    this.#grace.clear();
    if (outcome === "late") {
      const left = [...this.#runs.values()].filter((r) => !r.settled);
      await Promise.all(left.map((r) => this.#release(r, undefined, "the worker is stopping")));
    }
    this.#state = "stopped";
  }

  async #claimLoop(): Promise<void> {
    let failures = 0;
    while (this.#state === "running") {
      const free = this.#concurrency - this.#runs.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.#slotFreed = resolve));
        this.#slotFreed = null;
        continue;
      }
      try {
        const jobs = await this.client.claim<P>(this.queue, {
          worker: this.name,
          max: Math.min(free, 100),
          leaseMs: this.#leaseMs,
          waitMs: this.#waitMs,
        }, { signal: this.#claiming.signal, timeoutMs: this.#waitMs + 30_000 });
        failures = 0;
        for (const job of jobs) this.#begin(job);
      } catch (error) {
        if (this.#state !== "running") break;
        this.#report(error);
        failures++;
        await sleep(
          Math.min(5_000, 100 * 2 ** failures) * (0.5 + Math.random()),
          this.#claiming.signal,
        );
      }
    }
  }

  /** Starts the handler on a claimed job (or gives it back, if the worker began stopping). */
  #begin(job: ClaimedJob<P>): void {
    const controller = new AbortController();
    const view: WorkerJob<P> = {
      ...job,
      queue: this.queue,
      signal: controller.signal,
      progress: (value) => this.#progress(run, value),
    };
    const run: Run = { view: view as WorkerJob, controller, settled: false, timers: [] };
    this.#stats.claimed++;
    this.#runs.set(job.id, run);
    if (this.#state !== "running") {
      run.done = this.#release(run, undefined, "the worker is stopping").finally(() =>
        this.#end(run)
      );
      return;
    }
    this.#renewLater(run);
    if (this.#timeoutMs !== undefined) {
      run.timers.push(setTimeout(() => this.#timedOut(run), this.#timeoutMs));
    }
    run.done = this.#execute(run, view).finally(() => this.#end(run));
  }

  async #execute(run: Run, view: WorkerJob<P>): Promise<void> {
    let result: R;
    try {
      result = await this.handler(view);
    } catch (error) {
      if (run.settled) return; // lost, timed out or released: the outcome is not ours to send
      if (error instanceof RetryLater) return await this.#release(run, error.delayMs);
      return await this.#nack(run, error, error instanceof FinalError);
    }
    if (run.settled) return;
    await this.#settle(run, async () => {
      const next = await this.#ack(view, result);
      this.#stats.completed++;
      this.emit("completed", run.view, result);
      for (const job of next) this.#begin(job);
    });
  }

  /**
   * Acks, and while running asks in the same request for a job to take this slot (one round trip
   * a job). The slot stays this run's until the answer, so the claim loop cannot fill it too.
   */
  async #ack(view: WorkerJob<P>, result: R): Promise<ClaimedJob<P>[]> {
    if (this.#state !== "running" || this.#plainAcks) {
      await this.client.ack(view.id, view.lease, result);
      return [];
    }
    const next = { queue: this.queue, worker: this.name, max: 1, leaseMs: this.#leaseMs };
    try {
      return await this.client.ackAndClaim<P>(view.id, view.lease, next, result);
    } catch (error) {
      // A server older than the ack's next claim refuses the field, and did nothing: plain acks.
      if (!(error instanceof InvalidRequestError && error.message.includes('"next"'))) throw error;
      this.#plainAcks = true;
      return await this.#ack(view, result);
    }
  }

  async #nack(run: Run, error: unknown, final: boolean): Promise<void> {
    const text = (error instanceof Error ? error.message : String(error)).slice(0, maxErrorChars);
    await this.#settle(run, async () => {
      const r = await this.client.nack(run.view.id, run.view.lease, { error: text, final });
      this.#stats.failed++;
      this.emit("failed", run.view, error, r.state);
    });
  }

  /** Gives the job back without using an attempt; `abortReason` aborts a handler still running. */
  async #release(run: Run, delayMs?: number, abortReason?: string): Promise<void> {
    if (abortReason !== undefined) run.controller.abort(new Error(abortReason));
    await this.#settle(run, async () => {
      await this.client.release(run.view.id, run.view.lease, delayMs);
      this.#stats.released++;
      this.emit("released", run.view);
    });
  }

  /** Sends a job's one settlement; a refusal that says the lease is gone counts as lost. */
  async #settle(run: Run, send: () => Promise<void>): Promise<void> {
    if (run.settled) return;
    run.settled = true;
    run.timers.forEach(clearTimeout);
    try {
      await send();
    } catch (error) {
      const reason = lostReason(error);
      if (reason) this.#lost(run, reason);
      else this.#report(error); // its lease runs out and the job is handled again
    }
  }

  #renewLater(run: Run): void {
    const everyMs = (this.#leaseMs / 3) * (0.8 + Math.random() * 0.4);
    run.timers.push(setTimeout(() => void this.#renew(run), everyMs));
  }

  async #renew(run: Run): Promise<void> {
    if (run.settled) return;
    const { id, lease } = run.view;
    try {
      await this.client.extend(id, lease, this.#leaseMs, { timeoutMs: this.#leaseMs / 3 });
    } catch (error) {
      const reason = lostReason(error);
      if (reason) return this.#lose(run, reason);
      this.#report(error); // the next renewal may get through before the lease runs out
    }
    if (!run.settled) this.#renewLater(run);
  }

  async #progress(run: Run, value: unknown): Promise<void> {
    try {
      await this.client.progress(run.view.id, run.view.lease, value);
    } catch (error) {
      const reason = lostReason(error);
      if (reason) this.#lose(run, reason);
      throw error;
    }
  }

  #timedOut(run: Run): void {
    if (run.settled) return;
    const error = new Error(`the handler ran longer than ${this.#timeoutMs} ms`);
    run.controller.abort(error);
    void this.#nack(run, error, false);
  }

  /** The lease is gone while the handler runs: abort it and drop what it returns. */
  #lose(run: Run, reason: LeaseLostReason): void {
    if (run.settled) return;
    run.settled = true;
    run.timers.forEach(clearTimeout);
    run.controller.abort(new Error(`lost the job's lease (${reason})`));
    this.#lost(run, reason);
  }

  #lost(run: Run, reason: LeaseLostReason): void {
    this.#stats.leaseLost++;
    this.emit("leaseLost", run.view, reason);
  }

  #end(run: Run): void {
    run.timers.forEach(clearTimeout);
    this.#runs.delete(run.view.id);
    this.#slotFreed?.();
  }

  #report(error: unknown): void {
    if (this.listens("error")) this.emit("error", error);
    else console.warn(`raftq worker ${this.name}:`, error instanceof Error ? error.message : error);
  }
}
