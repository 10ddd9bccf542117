// Client: a typed method per raftq route, over HttpCaller (leader following and safe retries).

import { RaftqError } from "./errors.ts";
import { HttpCaller, type HttpOptions } from "./http.ts";
import { type EventsOptions, queueEvents } from "./events.ts";
import type {
  CallOptions,
  ClaimedJob,
  ClaimOptions,
  ClusterStatus,
  Enqueued,
  EnqueueOptions,
  FlowJob,
  GroupCounts,
  Job,
  JobState,
  Member,
  NackOptions,
  NewJob,
  NextClaim,
  QueueConfig,
  QueueEvent,
  QueueStats,
  QueueView,
  Schedule,
  ScheduleSpec,
} from "./types.ts";

export interface ClientOptions extends HttpOptions {}

const q = encodeURIComponent;

/** A job body as the API takes it: the client's own idempotency key when none was given. */
function jobBody<P>(job: NewJob<P>): Record<string, unknown> {
  const { idempotencyKey, ...rest } = job;
  const body: Record<string, unknown> = { ...rest };
  if (idempotencyKey !== null) body.idempotencyKey = idempotencyKey ?? crypto.randomUUID();
  return body;
}

/**
 * raftq's REST API as methods. Reads, enqueues (which carry an idempotency key) and a worker's
 * commands (which carry a lease) are retried through `no_leader`, `outcome_unknown` and nodes
 * that do not answer, until `retryForMs`; everything else only when nothing was done.
 */
export class Client {
  readonly http: HttpCaller;

  constructor(options: ClientOptions) {
    this.http = new HttpCaller(options);
  }

  // ------------------------------------------------------------------ queue

  enqueue<P>(
    queue: string,
    payload: P,
    options: EnqueueOptions = {},
    call?: CallOptions,
  ): Promise<Enqueued> {
    const body = jobBody({ ...options, payload });
    return this.#write(`/v1/queues/${q(queue)}/jobs`, body, true, call);
  }

  /** Up to 1,000 jobs in one log entry: all or none. */
  async enqueueBatch<P>(queue: string, jobs: NewJob<P>[], call?: CallOptions): Promise<string[]> {
    const body = { jobs: jobs.map(jobBody) };
    return (await this.#write<{ ids: string[] }>(`/v1/queues/${q(queue)}/batch`, body, true, call))
      .ids;
  }

  /** Leases up to `max` ready jobs; with `waitMs`, waits that long for one (long poll). */
  async claim<P = unknown>(
    queue: string,
    options: ClaimOptions,
    call?: CallOptions,
  ): Promise<ClaimedJob<P>[]> {
    // A retried claim whose first try was applied leaves that lease to run out: safe, if slow.
    const r = await this.http.call<{ jobs: ClaimedJob<P>[] }>({
      method: "POST",
      path: `/v1/queues/${q(queue)}/claim`,
      body: options,
      waitMs: options.waitMs,
      retrySafe: true,
      ...call,
    });
    return r.jobs;
  }

  /** Completes a job. Retried with the same lease, it is answered as the first was. */
  ack(id: string, lease: string, result?: unknown, call?: CallOptions): Promise<JobStateAnswer> {
    return this.#write(`/v1/jobs/${q(id)}/ack`, { lease, result }, true, call);
  }

  /**
   * Completes a job and, in the same log entry, leases the next ready jobs of `next.queue`: one
   * round trip a job for a worker loop. A retry with the same lease is answered as the first
   * was, with a new claim; jobs a lost answer held come back when their lease runs out.
   */
  async ackAndClaim<P = unknown>(
    id: string,
    lease: string,
    next: NextClaim,
    result?: unknown,
    call?: CallOptions,
  ): Promise<ClaimedJob<P>[]> {
    const path = `/v1/jobs/${q(id)}/ack`;
    const r = await this.#write<{ jobs: ClaimedJob<P>[] }>(
      path,
      { lease, result, next },
      true,
      call,
    );
    return r.jobs;
  }

  nack(
    id: string,
    lease: string,
    options: NackOptions = {},
    call?: CallOptions,
  ): Promise<JobStateAnswer> {
    return this.#write(`/v1/jobs/${q(id)}/nack`, { lease, ...options }, true, call);
  }

  /** Gives a job back without using an attempt, now or after `delayMs`. */
  release(
    id: string,
    lease: string,
    delayMs?: number,
    call?: CallOptions,
  ): Promise<JobStateAnswer> {
    return this.#write(`/v1/jobs/${q(id)}/release`, { lease, delayMs }, true, call);
  }

  extend(
    id: string,
    lease: string,
    leaseMs: number,
    call?: CallOptions,
  ): Promise<{ id: string; leaseExpiresAt: number }> {
    return this.#write(
      `/v1/jobs/${q(id)}/extend`,
      { lease, leaseMs },
      true,
      call,
    );
  }

  /** Records the job's progress (shown by getJob); `409 cancelled` if it was cancelled. */
  progress(
    id: string,
    lease: string,
    progress: unknown,
    call?: CallOptions,
  ): Promise<{ id: string }> {
    return this.#write(
      `/v1/jobs/${q(id)}/progress`,
      { lease, progress },
      true,
      call,
    );
  }

  getJob<P = unknown, R = unknown>(id: string, options: ReadOptions = {}): Promise<Job<P, R>> {
    return this.#read(`/v1/jobs/${q(id)}${consistency(options)}`, options);
  }

  /** The job once it is done, dead or cancelled; at `timeoutMs` (default 20 s), as it is. */
  waitJob<P = unknown, R = unknown>(
    id: string,
    options: CallOptions & { waitMs?: number } = {},
  ): Promise<Job<P, R>> {
    const waitMs = options.waitMs ?? 20_000;
    return this.http.call({
      method: "GET",
      path: `/v1/jobs/${q(id)}/wait?timeoutMs=${waitMs}`,
      waitMs,
      retrySafe: true,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? waitMs + 30_000,
    });
  }

  /** Cancels a job that is not done (a retry of a cancel is answered as the first). */
  cancel(id: string, call?: CallOptions): Promise<JobStateAnswer> {
    return this.#send("DELETE", `/v1/jobs/${q(id)}`, undefined, true, call);
  }

  async queues(options: ReadOptions = {}): Promise<QueueStats[]> {
    return (await this.#read<{ queues: QueueStats[] }>(
      `/v1/queues${consistency(options)}`,
      options,
    ))
      .queues;
  }

  /** One queue: its counts by state, whether it is paused, its config. */
  queue(queue: string, options: ReadOptions = {}): Promise<QueueView> {
    return this.#read(`/v1/queues/${q(queue)}${consistency(options)}`, options);
  }

  /** Replaces a queue's config (a field left out goes back to its default); answers it whole. */
  configure(queue: string, config: QueueConfig, call?: CallOptions): Promise<QueueConfig> {
    return this.#send("PUT", `/v1/queues/${q(queue)}/config`, config, true, call);
  }

  /** Pauses a queue: enqueues go on, claims (and long polls) hand out nothing. */
  pause(queue: string, call?: CallOptions): Promise<QueueView> {
    return this.#write(`/v1/queues/${q(queue)}/pause`, undefined, true, call);
  }

  resume(queue: string, call?: CallOptions): Promise<QueueView> {
    return this.#write(`/v1/queues/${q(queue)}/resume`, undefined, true, call);
  }

  deadLetters<P = unknown>(
    queue: string,
    options: ReadOptions & { limit?: number; cursor?: string } = {},
  ): Promise<{ jobs: Job<P>[]; next: string | null }> {
    const query = search(options, ["limit", "cursor", "consistency"]);
    return this.#read(`/v1/queues/${q(queue)}/dead${query}`, options);
  }

  /**
   * A page of the queue's jobs, newest first (in `state`, or any; of one `group`, or all); pass
   * `next` as `cursor`.
   */
  jobs<P = unknown>(
    queue: string,
    options: ReadOptions & { state?: JobState; group?: string; limit?: number; cursor?: string } =
      {},
  ): Promise<{ jobs: Job<P>[]; next: string | null }> {
    const query = search(options, ["state", "group", "limit", "cursor", "consistency"]);
    return this.#read(`/v1/queues/${q(queue)}/jobs${query}`, options);
  }

  /**
   * The queue's events in log order, as an async iterator (`for await (const e of
   * client.events("q"))`), from now on or from `options.from`; it reconnects by itself, resuming
   * after the last event. Stop it with `options.signal` or by leaving the loop.
   */
  events(queue: string, options: EventsOptions = {}): AsyncGenerator<QueueEvent> {
    return queueEvents(this.http, queue, options);
  }

  /**
   * Creates a DAG of jobs atomically (one log entry) and answers each job's id by its ref. Each
   * job gets an idempotency key unless it has one, so a retry after an unknown outcome finds the
   * jobs the first attempt made instead of making them twice.
   */
  async flow(
    jobs: FlowJob[],
    options: { onFailure?: "fail" | "ignore" } = {},
    call?: CallOptions,
  ): Promise<Record<string, string>> {
    const body = { jobs: jobs.map((j) => jobBody(j)), ...options };
    return (await this.#write<{ ids: Record<string, string> }>("/v1/flows", body, true, call)).ids;
  }

  /** A page of the queue's groups with ready or leased jobs, by name; pass `next` as `cursor`. */
  groups(
    queue: string,
    options: ReadOptions & { limit?: number; cursor?: string } = {},
  ): Promise<{ groups: GroupCounts[]; next: string | null }> {
    const query = search(options, ["limit", "cursor", "consistency"]);
    return this.#read(`/v1/queues/${q(queue)}/groups${query}`, options);
  }

  /** Removes the queue's jobs in a finished state; answers how many. */
  async purge(
    queue: string,
    state: "done" | "dead" | "cancelled" | "expired",
    call?: CallOptions,
  ): Promise<number> {
    const path = `/v1/queues/${q(queue)}/jobs?state=${state}`;
    return (await this.#send<{ purged: number }>("DELETE", path, undefined, true, call)).purged;
  }

  /** Moves dead letters back to ready, oldest first (all, or `limit`); answers how many. */
  async retryDeadLetters(queue: string, limit?: number, call?: CallOptions): Promise<number> {
    const body = limit === undefined ? undefined : { limit };
    const path = `/v1/queues/${q(queue)}/dead/retry`;
    return (await this.#write<{ retried: number }>(path, body, true, call)).retried;
  }

  /** Moves a dead job back to ready (a retry after `outcome_unknown` may answer 409 conflict). */
  retryDead(queue: string, id: string, call?: CallOptions): Promise<JobStateAnswer> {
    return this.#write(`/v1/queues/${q(queue)}/dead/${q(id)}/retry`, undefined, true, call);
  }

  // ------------------------------------------------------------------ schedules

  /** Creates or replaces a schedule; answers it with its nextRunAt. */
  setSchedule<P>(id: string, spec: ScheduleSpec<P>, call?: CallOptions): Promise<Schedule<P>> {
    return this.#send("PUT", `/v1/schedules/${q(id)}`, spec, true, call);
  }

  /** Every schedule, by id (read a page of 1,000 at a time). */
  async schedules(options: ReadOptions = {}): Promise<Schedule[]> {
    type Page = { schedules: Schedule[]; next: string | null };
    const all: Schedule[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const query = search({ ...options, cursor: cursor || undefined }, ["cursor", "consistency"]);
      const page: Page = await this.#read<Page>(`/v1/schedules${query}`, options);
      all.push(...page.schedules);
      cursor = page.next;
    }
    return all;
  }

  schedule(id: string, options: ReadOptions = {}): Promise<Schedule> {
    return this.#read(`/v1/schedules/${q(id)}${consistency(options)}`, options);
  }

  /** Deletes a schedule (a retry after it took effect answers NotFoundError). */
  async deleteSchedule(id: string, call?: CallOptions): Promise<void> {
    await this.#send("DELETE", `/v1/schedules/${q(id)}`, undefined, true, call);
  }

  // ------------------------------------------------------------------ admin

  async health(call?: CallOptions): Promise<boolean> {
    await this.#read("/healthz", call);
    return true;
  }

  /** Whether the node is a member that knows a leader (GET /readyz). */
  async ready(call?: CallOptions): Promise<boolean> {
    try {
      await this.http.call({ method: "GET", path: "/readyz", retrySafe: true, ...pick(call) });
      return true;
    } catch (error) {
      if (error instanceof RaftqError && error.status === 503) return false;
      throw error;
    }
  }

  status(call?: CallOptions): Promise<ClusterStatus> {
    return this.#read("/admin/status", call);
  }

  async members(call?: CallOptions): Promise<Member[]> {
    return (await this.#read<{ members: Member[] }>("/admin/members", call)).members;
  }

  /** Adds a node (a learner first, a voter once caught up); answers when it is a voter. */
  addMember(url: string, id?: string, call?: CallOptions): Promise<Record<string, unknown>> {
    return this.#write("/admin/members", id === undefined ? { url } : { url, id }, false, {
      timeoutMs: 15 * 60_000,
      ...call,
    });
  }

  removeMember(id: string, call?: CallOptions): Promise<Record<string, unknown>> {
    return this.#send("DELETE", `/admin/members/${q(id)}`, undefined, false, call);
  }

  transfer(to?: string, call?: CallOptions): Promise<Record<string, unknown>> {
    return this.#write("/admin/transfer", to === undefined ? undefined : { to }, false, call);
  }

  snapshot(call?: CallOptions): Promise<{ snapshotIndex: number; appliedIndex: number }> {
    return this.#write("/admin/snapshot", undefined, true, call);
  }

  /**
   * A consistent backup image, streamed by the leader while writes go on (`raftq restore` makes
   * a data directory of it). Read `body` to its end, or cancel it.
   */
  async backup(
    call?: CallOptions,
  ): Promise<{ appliedIndex: number; body: ReadableStream<Uint8Array> }> {
    const res = await this.http.call<Response>({
      method: "GET",
      path: "/admin/backup",
      retrySafe: true,
      raw: true,
      ...pick(call),
    });
    const appliedIndex = Number(res.headers.get("x-raftq-backup-applied-index"));
    return { appliedIndex, body: res.body ?? new ReadableStream({ start: (c) => c.close() }) };
  }

  /** The OpenAPI 3.1 document of the API. */
  openApi(call?: CallOptions): Promise<Record<string, unknown>> {
    return this.#read("/openapi.json", call);
  }

  /** Prometheus text. */
  metrics(call?: CallOptions): Promise<string> {
    return this.http.call({
      method: "GET",
      path: "/metrics",
      retrySafe: true,
      text: true,
      ...call,
    });
  }

  // ------------------------------------------------------------------ plumbing

  #read<T>(path: string, call?: CallOptions): Promise<T> {
    return this.http.call({ method: "GET", path, retrySafe: true, ...pick(call) });
  }

  #write<T>(path: string, body: unknown, retrySafe: boolean, call?: CallOptions): Promise<T> {
    return this.#send("POST", path, body, retrySafe, call);
  }

  #send<T>(
    method: "POST" | "PUT" | "DELETE",
    path: string,
    body: unknown,
    retrySafe: boolean,
    call?: CallOptions,
  ): Promise<T> {
    return this.http.call({ method, path, body, retrySafe, ...pick(call) });
  }
}

export interface JobStateAnswer {
  id: string;
  state: JobState;
}

export interface ReadOptions extends CallOptions {
  /** "local" answers from the node's own state at once (possibly stale). */
  consistency?: "linearizable" | "local";
}

/** The query string of the `keys` that `options` sets ("" when it sets none). */
function search<O extends object>(options: O, keys: readonly (keyof O & string)[]): string {
  const params = new URLSearchParams();
  for (const key of keys) if (options[key] !== undefined) params.set(key, String(options[key]));
  return params.size > 0 ? `?${params}` : "";
}

function consistency(options: ReadOptions): string {
  return options.consistency === "local" ? "?consistency=local" : "";
}

function pick(call?: CallOptions): CallOptions {
  return call ? { signal: call.signal, timeoutMs: call.timeoutMs } : {};
}
