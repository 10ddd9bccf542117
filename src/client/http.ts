// One HTTP call to a raftq cluster: picks a node, follows the leader, retries what is safe.

import { ConnectionError, errorOf, RaftqError } from "./errors.ts";

export interface HttpOptions {
  /** Every node's base URL (or one: any node answers any request). */
  urls: string | readonly string[];
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** One attempt's bound, added to any long-poll wait the request asks for (default 15 s). */
  attemptTimeoutMs?: number;
  /** How long a call keeps retrying what may succeed later (default 30 s). */
  retryForMs?: number;
  /** Another fetch (a test's, or one with a custom agent). */
  fetch?: typeof fetch;
}

export interface Request {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  body?: unknown;
  /** Long-poll time the node may hold the request (added to the attempt's bound). */
  waitMs?: number;
  /**
   * Whether sending it again is safe when its outcome is unknown (a dropped connection, a 503
   * outcome_unknown): reads, and writes that carry an idempotency key or a lease.
   */
  retrySafe: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Answer with the body as text instead of parsing it as JSON. */
  text?: boolean;
  /** Answer with the Response itself (a stream the caller reads), once it is a success. */
  raw?: boolean;
  /** More request headers (an event stream's Last-Event-ID). */
  headers?: Record<string, string>;
}

/** Codes that mean nothing was done (or, for outcome_unknown, that a safe retry may be sent). */
const retryableCodes = new Set([
  "queue_full",
  "no_leader",
  "unavailable",
  "too_many_connections",
  "request_timeout",
  "outcome_unknown",
  "unreachable",
  "timeout",
]);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Sends requests to the cluster: to the leader when it is among `urls`, else across the list. */
export class HttpCaller {
  readonly urls: readonly string[];
  readonly #token: string | undefined;
  readonly #attemptMs: number;
  readonly #retryForMs: number;
  readonly #fetch: typeof fetch;
  /** The node tried first: the leader's index in `urls` once known, else the last that answered. */
  #preferred = 0;
  /** The leader whose URL `#preferred` points at, and one being looked up. */
  #leaderId: string | null = null;
  #lookingUp: string | null = null;

  constructor(options: HttpOptions) {
    const urls = typeof options.urls === "string" ? [options.urls] : [...options.urls];
    if (urls.length === 0) throw new TypeError("Client needs at least one URL");
    this.urls = urls.map((u) => new URL(u).origin);
    this.#token = options.token;
    this.#attemptMs = options.attemptTimeoutMs ?? 15_000;
    this.#retryForMs = options.retryForMs ?? 30_000;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The node the next call goes to first. */
  get target(): string {
    return this.urls[this.#preferred];
  }

  /** Sends `req` until it is answered, or a retry is unsafe or pointless, or time runs out. */
  async call<T>(req: Request): Promise<T> {
    const deadline = Date.now() + (req.timeoutMs ?? this.#retryForMs);
    let at = this.#preferred;
    let preferred = at;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) {
        // Retries go to a newly learned leader, else round the list (a node cut off from the
        // others answers no_leader; a dead one does not answer).
        at = this.#preferred !== preferred ? this.#preferred : (at + 1) % this.urls.length;
        preferred = this.#preferred;
      }
      let error: RaftqError;
      try {
        return await this.#attempt<T>(at, req, deadline);
      } catch (e) {
        if (!(e instanceof RaftqError)) throw e;
        error = e;
      }
      if ((error.code === "unreachable" || error.code === "timeout") && at === this.#preferred) {
        this.#preferred = preferred = (at + 1) % this.urls.length; // later calls start elsewhere
        this.#leaderId = null;
      }
      const left = deadline - Date.now();
      if (req.signal?.aborted || !this.#retryable(error, req) || left <= 0) throw error;
      const backoffMs = Math.min(1000, 50 * 2 ** Math.min(attempt, 5));
      const waitMs = error.retryAfterMs ?? backoffMs * (0.5 + Math.random());
      await sleep(Math.min(waitMs, left), req.signal);
    }
  }

  #retryable(error: RaftqError, req: Request): boolean {
    if (!retryableCodes.has(error.code)) return false;
    // Unreachable before a byte was sent is safe for any request, but fetch cannot tell us.
    const unknown = error.code === "outcome_unknown" || error.code === "unreachable" ||
      error.code === "timeout";
    return !unknown || req.retrySafe;
  }

  async #attempt<T>(at: number, req: Request, deadline: number): Promise<T> {
    const timeoutMs = Math.min(this.#attemptMs + (req.waitMs ?? 0), deadline - Date.now());
    // Bounds the answer; a raw answer's body (a backup) is the caller's to read, unbounded.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), Math.max(1, timeoutMs));
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    const headers: Record<string, string> = { accept: "application/json", ...req.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (req.body !== undefined) headers["content-type"] = "application/json";
    try {
      let res: Response;
      try {
        res = await this.#fetch(`${this.urls[at]}${req.path}`, {
          method: req.method,
          headers,
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          signal,
        });
      } catch (e) {
        throw this.#failure(at, req, timeout.signal.aborted, e);
      }
      this.#learnLeader(at, res.headers.get("x-raftq-leader"));
      if (res.ok && req.raw) return res as T;
      try {
        if (res.ok) return await this.#read<T>(res, req);
        throw await this.#answeredError(res);
      } catch (e) {
        if (e instanceof RaftqError) throw e;
        throw this.#failure(at, req, timeout.signal.aborted, e); // the body was cut short
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #failure(at: number, req: Request, timedOut: boolean, cause: unknown): RaftqError {
    if (req.signal?.aborted) return new ConnectionError("aborted", "the call was aborted");
    const url = this.urls[at];
    if (timedOut) return new ConnectionError("timeout", `${url} did not answer in time`);
    const why = cause instanceof Error ? cause.message : String(cause);
    return new ConnectionError("unreachable", `${url} could not be reached: ${why}`);
  }

  async #read<T>(res: Response, req: Request): Promise<T> {
    const text = await res.text();
    if (req.text) return text as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw errorOf("bad_response", `the node answered ${res.status} with a body that is not JSON`);
    }
  }

  async #answeredError(res: Response): Promise<RaftqError> {
    const retryAfter = Number(res.headers.get("retry-after") ?? NaN);
    const retryAfterMs = Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined;
    let code = `http_${res.status}`;
    let message = `the node answered ${res.status}`;
    try {
      const body = await res.json() as { error?: { code?: unknown; message?: unknown } };
      if (typeof body?.error?.code === "string") code = body.error.code;
      if (typeof body?.error?.message === "string") message = body.error.message;
    } catch {
      // not our error shape (a proxy's page): the status says enough
    }
    return errorOf(code, message, res.status, retryAfterMs);
  }

  /**
   * Aims the next calls at the leader the answer named, when it is one of `urls`: looked up once
   * per new leader on the node that named it (its /admin/status holds the leader's URL).
   */
  #learnLeader(at: number, leaderId: string | null): void {
    if (!leaderId || leaderId === this.#leaderId || this.urls.length === 1) return;
    if (this.#lookingUp === leaderId) return;
    this.#lookingUp = leaderId;
    void this.#call<{ leader: { id: string; url: string | null } | null }>(at, "/admin/status")
      .then((status) => {
        const url = status.leader?.url ? new URL(status.leader.url).origin : null;
        const index = url === null ? -1 : this.urls.indexOf(url);
        if (status.leader?.id !== leaderId) return; // it changed again: the next answer says so
        this.#leaderId = leaderId;
        if (index >= 0) this.#preferred = index;
      })
      .catch(() => {}) // the next answer naming this leader tries again
      .finally(() => {
        if (this.#lookingUp === leaderId) this.#lookingUp = null;
      });
  }

  /** A plain GET to one node (no retries). */
  #call<T>(at: number, path: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    return this.#fetch(`${this.urls[at]}${path}`, {
      headers,
      signal: AbortSignal.timeout(this.#attemptMs),
    }).then((r) => (r.ok ? r.json() as Promise<T> : Promise.reject(new Error(`${r.status}`))));
  }
}
