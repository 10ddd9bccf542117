// The request Hono sees from the edge: method, URL and headers as parsed, a fetch Request on need.

/** How a request's body came: its bytes, or why there are none to give. */
export type EdgeBody = Uint8Array<ArrayBuffer> | "too_large" | "cut_short";

/** A request's header fields, read-only, with the Headers methods that read. */
export class EdgeHeaders {
  constructor(readonly fields: Record<string, string>) {}

  get(name: string): string | null {
    return this.fields[name.toLowerCase()] ?? null;
  }

  has(name: string): boolean {
    return this.fields[name.toLowerCase()] !== undefined;
  }

  forEach(fn: (value: string, name: string, headers: EdgeHeaders) => void): void {
    for (const [name, value] of this.entries()) fn(value, name, this);
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.fields).sort()) yield [name, this.fields[name]];
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * One request as Hono needs it. The body has been read by the edge (bounded); `signal` aborts
 * when the client goes away. Anything a fetch Request has beyond these builds one on first use.
 */
export class EdgeRequest {
  readonly headers: EdgeHeaders;
  /** The leader's id, which the edge writes into the answer (see nameLeader). */
  leader: string | undefined;
  #abort?: AbortController;
  #aborted = false;
  #native?: Request;
  #body: EdgeBody | null;

  constructor(
    readonly method: string,
    readonly url: string,
    fields: Record<string, string>,
    body: EdgeBody,
  ) {
    this.headers = new EdgeHeaders(fields);
    this.#body = body;
  }

  /**
   * The body, for its one reader; the request then holds it no more. A small body is a view of
   * a shared slab (see copyBody): a long poll holding its body would hold the slab with it.
   */
  takeBody(): EdgeBody {
    const body = this.#body;
    if (body === null) throw new Error("the request's body was read already");
    this.#body = null;
    return body;
  }

  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#aborted) this.#abort.abort(goneReason());
    }
    return this.#abort.signal;
  }

  /** The client went away before its answer. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abort?.abort(goneReason());
  }

  /** The request as a fetch Request (its body the bytes read, unless a reader took them). */
  native(): Request {
    if (this.#native) return this.#native;
    const bytes = this.#body;
    const body = bytes === null || typeof bytes === "string" || bytes.length === 0 ||
        this.method === "GET" || this.method === "HEAD"
      ? undefined
      : bytes;
    this.#body = null;
    this.#native = new Request(this.url, {
      method: this.method,
      headers: Object.entries(this.headers.fields),
      body,
      signal: this.signal,
    });
    return this.#native;
  }
}

const goneReason = () => new DOMException("The client closed the connection", "AbortError");

for (
  const key of ["body", "bodyUsed", "cache", "credentials", "integrity", "keepalive", "mode"]
) {
  Object.defineProperty(EdgeRequest.prototype, key, {
    get(this: EdgeRequest) {
      return this.native()[key as keyof Request];
    },
  });
}
for (const key of ["arrayBuffer", "blob", "bytes", "clone", "formData", "json", "text"]) {
  Object.defineProperty(EdgeRequest.prototype, key, {
    value(this: EdgeRequest) {
      return (this.native()[key as keyof Request] as () => unknown).call(this.native());
    },
  });
}
