// One HTTP/1.1 connection: reads its requests in order, hands each to the app, writes the answers.

import { concatBytes } from "../buffers.ts";
import { type AnswerContext, closingError, statusLine, writeAll, writeAnswer } from "./answer.ts";
import { ChunkedBody } from "./chunked.ts";
import { findHeadEnd, HttpRefusal, maxHeadBytes, parseHead, type RequestHead } from "./head.ts";
import { type EdgeBody, EdgeRequest } from "./request.ts";
import { copyBody } from "./slab.ts";
import type { ByteConn } from "./socket_conn.ts";

/** What a connection needs from its server. */
export interface ConnectionHooks {
  fetch(request: Request): Response | Promise<Response>;
  maxBodyBytes: number;
  scheme: "http" | "https";
  /** The request asks for a WebSocket: the server takes the connection and the bytes after it. */
  upgrade(connection: HttpConnection, head: RequestHead, rest: Uint8Array): void;
  closed(connection: HttpConnection): void;
  /** The server is stopping: answer what is in flight, then close. */
  stopping(): boolean;
  date(): string;
  /** `keep-alive: timeout=N\r\n`, from the idle bound. */
  keepAliveLine: string;
  onError(event: string, error: unknown): void;
}

/**
 * Where the connection is, for the server's timers: waiting for a request (`idle`), reading its
 * head or body, answering it (`busy`: no bound, long polls wait here), or handed to a WebSocket.
 */
export type ConnectionState = "idle" | "head" | "body" | "busy" | "upgraded" | "closed";

const empty = new Uint8Array(0);
/** What a connection reads at a time, unless a read filled it (then up to 64 KiB). */
const smallReadBytes = 4096;
/** A connection's buffer for writing answers (a short one's head and body in one write). */
const scratchBytes = 8192;
/** Bytes of following requests read while one is answered (beyond, reading waits). */
const readAheadBytes = 64 * 1024;
const hostPattern = /^[A-Za-z0-9.\-_:[\]]*$/;
const encoder = new TextEncoder();

export class HttpConnection {
  state: ConnectionState = "idle";
  /** When the state's clock started: the connection's start, a request's first byte, an answer. */
  sinceMs = Date.now();
  /** Requests answered. */
  served = 0;
  #pending: Uint8Array = empty;
  #reading: Promise<boolean> | null = null;
  #ended = false;
  #readSize = smallReadBytes;
  /** How far the pending bytes were searched for a head's end. */
  #searched = 0;
  #smallBuffer: Uint8Array | undefined;
  #scratch: Uint8Array | undefined;
  #closeAfterAnswer = false;
  #request: EdgeRequest | null = null;

  constructor(readonly conn: ByteConn, readonly hooks: ConnectionHooks) {}

  /** Answering a request (long polls wait here) or carrying a peer link: never evicted. */
  get busy(): boolean {
    return this.state === "busy" || this.state === "upgraded";
  }

  /** Bytes of buffers the connection holds between requests: its read buffer and answer buffer. */
  get heldBytes(): number {
    return (this.#smallBuffer?.length ?? 0) + (this.#scratch?.length ?? 0);
  }

  /** Serves requests until the connection ends. */
  async run(): Promise<void> {
    try {
      while (await this.#serveOne());
    } catch (err) {
      if (err instanceof HttpRefusal) await this.#refuse(err.status, err.message);
    } finally {
      if (this.state !== "upgraded") this.close();
    }
  }

  close(): void {
    if (this.state === "closed") return;
    if (this.state !== "upgraded") {
      try {
        this.conn.close();
      } catch {
        // already closed by the peer's reset
      }
    }
    this.state = "closed";
    this.#request?.abort();
    this.hooks.closed(this);
  }

  /** Applies the time bounds (see httpTimeouts) at `nowMs`. */
  expire(nowMs: number, bounds: { headersMs: number; requestMs: number; keepAliveMs: number }) {
    const age = nowMs - this.sinceMs;
    if (this.state === "idle") {
      // An idle connection lets its answer buffer go (thousands of kept-alive clients, 8 KiB each).
      this.#scratch = undefined;
      if (age > (this.served > 0 ? bounds.keepAliveMs : bounds.headersMs)) this.close();
    } else if (
      (this.state === "head" && age > bounds.headersMs) ||
      (this.state === "body" && age > bounds.requestMs)
    ) {
      this.state = "busy"; // nothing else may write now
      void this.#refuse(408, "The request did not arrive in time").finally(() => this.close());
    }
  }

  async #serveOne(): Promise<boolean> {
    // A request already read whole is served without waiting (most are: one read, one request).
    const head = this.#takeHead() ?? await this.#readHead();
    if (!head) return false;
    this.#pending = this.#pending.subarray(head.headBytes);
    if (head.upgrade) {
      // A peer dials a fresh connection for its link; none is pipelined behind other requests.
      if (this.served > 0) throw new HttpRefusal(400, "Malformed HTTP (upgrade after a request)");
      this.state = "upgraded";
      this.hooks.upgrade(this, head, this.#pending);
      return false;
    }
    const url = this.#url(head);
    const body = this.#takeBody(head) ?? await this.#readBody(head);
    return await this.#answer(head, url, body);
  }

  async #readHead(): Promise<RequestHead | null> {
    for (;;) {
      if (!(await this.#read())) return null;
      const head = this.#takeHead();
      if (head) return head;
    }
  }

  /** The head, if the bytes read hold all of it; throws for one over the bound. */
  #takeHead(): RequestHead | null {
    if (this.#pending.length === 0) return null;
    if (this.state === "idle") this.#enter("head");
    const end = findHeadEnd(this.#pending, this.#searched);
    if (end > maxHeadBytes || (end === -1 && this.#pending.length > maxHeadBytes)) {
      throw new HttpRefusal(431, "Malformed HTTP (request head over 16 KiB)");
    }
    if (end === -1) {
      this.#searched = this.#pending.length;
      return null;
    }
    this.#searched = 0;
    return parseHead(this.#pending, end);
  }

  #url(head: RequestHead): string {
    const host = head.headers["host"] || "localhost";
    if (!hostPattern.test(host)) throw new HttpRefusal(400, "Malformed HTTP (Host)");
    if (head.target.charCodeAt(0) === 47) return `${this.hooks.scheme}://${host}${head.target}`;
    if (/^https?:\/\/[^/?#]+/i.test(head.target)) return head.target;
    throw new HttpRefusal(400, "Malformed HTTP (request target)");
  }

  /** The body, if it has no bytes, is declared over the bound, or all its bytes are read. */
  #takeBody(head: RequestHead): EdgeBody | null {
    if (head.body === 0) return new Uint8Array();
    if (head.body !== "chunked" && head.body > this.hooks.maxBodyBytes) {
      // Not read: the answer says why, and the connection closes after it.
      this.#closeAfterAnswer = true;
      return "too_large";
    }
    if (head.body === "chunked" || head.body > this.#pending.length) return null;
    const bytes = copyBody(this.#pending.subarray(0, head.body));
    this.#pending = this.#pending.subarray(head.body);
    return bytes;
  }

  async #readBody(head: RequestHead): Promise<EdgeBody> {
    this.state = "body";
    if (head.expectContinue && this.#pending.length === 0) {
      await writeAll(this.conn, encoder.encode(`${statusLine(100)}\r\n`));
    }
    return head.body === "chunked" ? await this.#readChunked() : await this.#readLength(head.body);
  }

  /**
   * A declared body, into one buffer of its length as its bytes come (a read's bytes are moved
   * out at once, so none is appended to what is pending and copied again on the next read).
   */
  async #readLength(length: number): Promise<EdgeBody> {
    const body = new Uint8Array(length);
    let filled = 0;
    for (;;) {
      const take = Math.min(length - filled, this.#pending.length);
      body.set(this.#pending.subarray(0, take), filled);
      filled += take;
      this.#pending = this.#pending.subarray(take);
      if (filled === length) return body;
      if (!(await this.#read())) return this.#cutShort();
    }
  }

  async #readChunked(): Promise<EdgeBody> {
    const body = new ChunkedBody(this.hooks.maxBodyBytes);
    for (;;) {
      this.#pending = this.#pending.subarray(body.consume(this.#pending));
      if (body.tooLarge) {
        this.#closeAfterAnswer = true;
        return "too_large";
      }
      if (body.done) return concatBytes(body.chunks, body.size);
      if (!(await this.#read())) return this.#cutShort();
    }
  }

  /** The client closed mid-body: the app answers it (to no one), as it would a short body. */
  #cutShort(): EdgeBody {
    this.#closeAfterAnswer = true;
    return "cut_short";
  }

  async #answer(head: RequestHead, url: string, body: EdgeBody): Promise<boolean> {
    const request = new EdgeRequest(head.method, url, head.headers, body);
    this.#request = request;
    this.#enter("busy");
    this.#watchForClose(request);
    try {
      const response = await this.#respond(request);
      return await writeAnswer(this.conn, response, this.#answerContext(head, request));
    } catch (err) {
      if (!isConnectionGone(err)) this.hooks.onError("answer_failed", err);
      return false;
    } finally {
      this.#request = null;
      this.served++;
      if (this.state === "busy") this.#enter("idle");
    }
  }

  async #respond(request: EdgeRequest): Promise<Response> {
    try {
      return await this.hooks.fetch(request as unknown as Request);
    } catch (err) {
      this.hooks.onError("request_failed", err);
      return refusalResponse(500, "internal", "The request failed; see the node's log");
    }
  }

  #answerContext(head: RequestHead, request: EdgeRequest): AnswerContext {
    const keepAlive = head.keepAlive && !this.#closeAfterAnswer && !this.#ended &&
      !this.hooks.stopping();
    return {
      head: head.method === "HEAD",
      minorVersion: head.minorVersion,
      keepAlive,
      leader: request.leader,
      date: this.hooks.date(),
      keepAliveLine: this.hooks.keepAliveLine,
      scratch: this.#scratch ??= new Uint8Array(scratchBytes),
    };
  }

  /** Keeps reading while a request is answered, so a client that leaves aborts its request. */
  #watchForClose(request: EdgeRequest): void {
    const watch = async () => {
      while (this.#request === request && this.#pending.length < readAheadBytes) {
        if (!(await this.#read())) return request.abort();
      }
    };
    void watch();
  }

  #enter(state: ConnectionState): void {
    this.state = state;
    this.sinceMs = Date.now();
  }

  /** Reads more bytes into the pending ones; false once the connection has ended. */
  #read(): Promise<boolean> {
    if (this.#ended) return Promise.resolve(false);
    return this.#reading ??= this.#readOnce();
  }

  async #readOnce(): Promise<boolean> {
    // The small buffer is the connection's own, reused once its bytes are consumed (every
    // request's parts are copies): a fresh one a read made the collector run at 256 connections.
    const reuse = this.#readSize === smallReadBytes && this.#pending.length === 0;
    const buf = reuse
      ? (this.#smallBuffer ??= new Uint8Array(smallReadBytes))
      : new Uint8Array(this.#readSize);
    let n: number | null = null;
    try {
      n = await this.conn.read(buf);
    } catch {
      // a reset, or closed by a timer: an end like any other
    }
    this.#reading = null;
    if (n === null) {
      this.#ended = true;
      return false;
    }
    this.#readSize = n === buf.length ? Math.min(this.#readSize * 4, 64 * 1024) : smallReadBytes;
    const got = buf.subarray(0, n);
    this.#pending = this.#pending.length === 0
      ? got
      : concatBytes([this.#pending, got], this.#pending.length + n);
    return true;
  }

  async #refuse(status: number, message: string): Promise<void> {
    const code = status === 408 ? "request_timeout" : "invalid_request";
    try {
      await writeAll(this.conn, closingError(status, code, message));
    } catch {
      // gone already
    }
  }
}

/** A JSON error answer in the API's shape. */
function refusalResponse(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function isConnectionGone(err: unknown): boolean {
  return err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BadResource || err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.Interrupted || err instanceof Deno.errors.ConnectionAborted;
}
