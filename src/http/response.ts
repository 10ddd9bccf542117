// A Response that keeps its status, body and headers as given, so the edge writes them directly.

const NativeResponse = globalThis.Response;

/** A body the edge writes as it is. */
export type PlainBody = string | Uint8Array | ReadableStream<Uint8Array> | null;
/** Status, body and headers as the handler gave them (headers become a Headers once read). */
export type ResponseParts = [status: number, body: PlainBody, headers: HeadersInit | undefined];

/** Where a LightResponse keeps its parts while no one has asked for a fetch Response. */
export const responseParts = Symbol("raftq.responseParts");

const isPlainBody = (body: unknown): body is PlainBody =>
  body === null || typeof body === "string" || body instanceof Uint8Array ||
  body instanceof ReadableStream;

/**
 * What `new Response()` makes while the edge serves (see installLightResponse). Hono builds one
 * for every answer; a fetch Response would build a Headers object and a body stream that the edge
 * would then read back. This one is a fetch Response only when something asks for more than its
 * status and headers.
 */
export class LightResponse {
  [responseParts]?: ResponseParts;
  #native?: Response;
  readonly #body: BodyInit | null | undefined;
  readonly #init: ResponseInit | undefined;

  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NativeResponse ||
      Function.prototype[Symbol.hasInstance].call(LightResponse, value);
  }

  static json(data: unknown, init?: ResponseInit): Response {
    return NativeResponse.json(data, init);
  }

  static error(): Response {
    return NativeResponse.error();
  }

  static redirect(url: string | URL, status?: number): Response {
    return NativeResponse.redirect(url, status);
  }

  constructor(body?: BodyInit | null, init?: ResponseInit | Response) {
    this.#body = body;
    this.#init = init instanceof LightResponse ? copyInit(init as unknown as Response) : init;
    if (body === undefined || isPlainBody(body)) {
      this[responseParts] = [this.#init?.status ?? 200, body ?? null, this.#init?.headers];
    }
  }

  /** The fetch Response, built on first need; from then on the parts are gone. */
  native(): Response {
    if (this.#native) return this.#native;
    const parts = this[responseParts];
    delete this[responseParts];
    this.#native = parts
      ? new NativeResponse(parts[1] as BodyInit | null, { status: parts[0], headers: parts[2] })
      : new NativeResponse(this.#body, this.#init);
    return this.#native;
  }

  get headers(): Headers {
    const parts = this[responseParts];
    if (!parts) return this.native().headers;
    if (parts[2] instanceof Headers) return parts[2];
    const headers = new Headers(parts[2]);
    if (typeof parts[1] === "string" && !headers.has("content-type")) {
      headers.set("content-type", "text/plain;charset=UTF-8");
    }
    parts[2] = headers;
    return headers;
  }

  get status(): number {
    return this[responseParts]?.[0] ?? this.native().status;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
}

function copyInit(from: Response): ResponseInit {
  return { status: from.status, statusText: from.statusText, headers: new Headers(from.headers) };
}

for (const key of ["body", "bodyUsed", "redirected", "statusText", "type", "url"] as const) {
  Object.defineProperty(LightResponse.prototype, key, {
    get(this: LightResponse) {
      return this.native()[key];
    },
  });
}
for (
  const key of ["arrayBuffer", "blob", "bytes", "clone", "formData", "json", "text"] as const
) {
  Object.defineProperty(LightResponse.prototype, key, {
    value(this: LightResponse) {
      return this.native()[key]();
    },
  });
}

/**
 * Makes `new Response()` a LightResponse in this process (a node serving HTTP): Hono and the
 * routes build their answers with it. `instanceof Response` holds for both kinds.
 */
export function installLightResponse(): void {
  if (globalThis.Response !== (LightResponse as unknown)) {
    globalThis.Response = LightResponse as unknown as typeof Response;
  }
}
