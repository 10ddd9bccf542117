// Writes a Response onto a connection as HTTP/1.1: the head, then the body whole or in chunks.

import { STATUS_CODES } from "node:http";
import { concatBytes } from "../buffers.ts";
import { LightResponse, type PlainBody, responseParts } from "./response.ts";
import type { ByteConn } from "./socket_conn.ts";

const encoder = new TextEncoder();
/** Bodies up to this size go out in the same write as the head. */
const joinedWriteBytes = 64 * 1024;
const injection = /[\r\n\0]/;
/** Room at the scratch's start for an answer's head, the body encoded behind it. */
const headRoomBytes = 2048;

export const statusLine = (status: number) =>
  `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`;

/**
 * A JSON error in the API's shape, written raw where no handler runs (a refused connection, a
 * malformed request, a refused upgrade), the connection closing after it.
 */
export function closingError(status: number, code: string, message: string, extra = "") {
  const body = encoder.encode(JSON.stringify({ error: { code, message } }));
  const head = encoder.encode(
    statusLine(status) + `content-type: application/json\r\n${extra}connection: close\r\n` +
      `content-length: ${body.length}\r\n\r\n`,
  );
  return concatBytes([head, body], head.length + body.length);
}

/** Writes all of `bytes` (a socket may take part of a write). */
export async function writeAll(conn: ByteConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(at === 0 ? bytes : bytes.subarray(at));
}

/** What the connection knows about the request being answered. */
export interface AnswerContext {
  head: boolean;
  minorVersion: 0 | 1;
  keepAlive: boolean;
  /** `x-raftq-leader`, unless the handler named one itself. */
  leader: string | undefined;
  date: string;
  /** `keep-alive: timeout=N` and its line end: how long an idle connection is kept. */
  keepAliveLine: string;
  /** The connection's buffer for answers (see writeWhole); free again once a write ends. */
  scratch: Uint8Array;
}

/** The status, headers and body of any Response, without building a fetch Response if avoidable. */
function partsOf(res: Response): [number, HeadersInit | undefined, PlainBody] {
  const light = res as unknown as LightResponse;
  const parts = light[responseParts];
  if (parts) return [parts[0], parts[2], parts[1]];
  // (instanceof LightResponse holds for fetch Responses too: ask the prototype chain itself.)
  const native = Object.prototype.isPrototypeOf.call(LightResponse.prototype, res)
    ? light.native()
    : res;
  return [native.status, native.headers, native.body];
}

/**
 * Writes the answer. Returns whether the connection may carry another request: not after a body
 * whose end only the close can mark (a stream to an HTTP/1.0 client).
 */
export async function writeAnswer(
  conn: ByteConn,
  res: Response,
  ctx: AnswerContext,
): Promise<boolean> {
  const [status, headers, body] = partsOf(res);
  const head = renderHeaders(headers, body);
  // A handler may ask for the close (the rest of a refused body is never read).
  if (head.close) ctx = { ...ctx, keepAlive: false };
  const noBody = ctx.head || bodiless(status);
  if (body === null || typeof body === "string" || body instanceof Uint8Array) {
    await writeWhole(conn, status, head, noBody ? null : body, ctx);
    return ctx.keepAlive;
  }
  const chunked = !head.hasLength && ctx.minorVersion === 1 && !noBody;
  if (chunked) head.text += "transfer-encoding: chunked\r\n";
  const keepAlive = ctx.keepAlive && (chunked || head.hasLength || noBody);
  const text = startLine(status, head, { ...ctx, keepAlive }) + head.text + "\r\n";
  await writeAll(conn, encoder.encode(text));
  if (noBody) await body.cancel().catch(() => {});
  else await writeStream(conn, body, chunked);
  return keepAlive;
}

/**
 * A body held whole: the head and body in one write. A short text body is encoded straight into
 * the connection's scratch behind room for the head, which is then moved up against it.
 */
async function writeWhole(
  conn: ByteConn,
  status: number,
  head: RenderedHeaders,
  body: string | Uint8Array | null,
  ctx: AnswerContext,
): Promise<void> {
  const { scratch } = ctx;
  const inScratch = typeof body === "string" &&
    body.length * 3 <= scratch.length - headRoomBytes;
  const bytes = inScratch
    ? scratch.subarray(
      headRoomBytes,
      headRoomBytes + encoder.encodeInto(body, scratch.subarray(headRoomBytes)).written,
    )
    : typeof body === "string"
    ? encoder.encode(body)
    : body;
  if (!head.hasLength && !bodiless(status)) {
    if (!ctx.head || bytes !== null) head.text += `content-length: ${bytes?.length ?? 0}\r\n`;
  }
  const text = startLine(status, head, ctx) + head.text + "\r\n";
  if (!inScratch) return await writeJoined(conn, text, bytes, scratch);
  const { read, written } = encoder.encodeInto(text, scratch.subarray(0, headRoomBytes));
  if (read < text.length) {
    // A head over its room (2 KiB of headers): two writes.
    await writeAll(conn, encoder.encode(text));
    return await writeAll(conn, bytes!);
  }
  scratch.copyWithin(written, headRoomBytes, headRoomBytes + bytes!.length);
  await writeAll(conn, scratch.subarray(0, written + bytes!.length));
}

/** Statuses whose answers never carry a body (nor a length). */
const bodiless = (status: number) => status === 204 || status === 304 || status < 200;

function startLine(status: number, head: RenderedHeaders, ctx: AnswerContext): string {
  let text = statusLine(status) + `date: ${ctx.date}\r\n`;
  if (ctx.leader !== undefined && !head.hasLeader) text += `x-raftq-leader: ${ctx.leader}\r\n`;
  if (!ctx.keepAlive) text += "connection: close\r\n";
  else {
    if (ctx.minorVersion === 0) text += "connection: keep-alive\r\n";
    text += ctx.keepAliveLine;
  }
  return text;
}

interface RenderedHeaders {
  text: string;
  hasLength: boolean;
  hasLeader: boolean;
  close: boolean;
}

function renderHeaders(headers: HeadersInit | undefined, body: PlainBody): RenderedHeaders {
  const out: RenderedHeaders = { text: "", hasLength: false, hasLeader: false, close: false };
  let hasType = false;
  const add = (name: string, value: string) => {
    if (injection.test(name) || injection.test(value)) {
      throw new TypeError(`The answer's header ${JSON.stringify(name)} holds a line break`);
    }
    const lower = name.toLowerCase();
    // The edge frames the body and the connection itself.
    if (lower === "connection") out.close ||= value.toLowerCase().includes("close");
    if (lower === "transfer-encoding" || lower === "connection" || lower === "date") return;
    if (lower === "content-length") out.hasLength = true;
    else if (lower === "content-type") hasType = true;
    else if (lower === "x-raftq-leader") out.hasLeader = true;
    out.text += `${name}: ${value}\r\n`;
  };
  if (headers instanceof Headers || Array.isArray(headers)) {
    for (const [name, value] of headers) add(name, value);
  } else if (headers) {
    for (const name in headers) {
      const value = (headers as Record<string, string | undefined>)[name];
      if (value !== undefined) add(name, value);
    }
  }
  if (!hasType && typeof body === "string") {
    out.text += "content-type: text/plain;charset=UTF-8\r\n";
  }
  return out;
}

/** The head and body in one write: in `scratch` when they fit (it is free once a write ends). */
async function writeJoined(
  conn: ByteConn,
  head: string,
  body: Uint8Array | null,
  scratch: Uint8Array,
) {
  const size = body?.length ?? 0;
  if (size > joinedWriteBytes) {
    await writeAll(conn, encoder.encode(head));
    return await writeAll(conn, body!);
  }
  const fits = head.length * 3 + size <= scratch.length;
  const out = fits ? scratch : new Uint8Array(head.length * 3 + size);
  const { written } = encoder.encodeInto(head, out);
  if (body) out.set(body, written);
  await writeAll(conn, out.subarray(0, written + size));
}

/** Writes a streamed body as it comes; a failed write cancels the stream. */
async function writeStream(
  conn: ByteConn,
  body: ReadableStream<Uint8Array>,
  chunked: boolean,
): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const bytes = typeof value === "string" ? encoder.encode(value) : value;
      if (bytes.length === 0) continue;
      await (chunked ? writeChunk(conn, bytes) : writeAll(conn, bytes));
    }
    if (chunked) await writeAll(conn, encoder.encode("0\r\n\r\n"));
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
}

const crlf = encoder.encode("\r\n");

/** One chunk of a chunked body: its size line, its bytes, its line end (a large one uncopied). */
async function writeChunk(conn: ByteConn, bytes: Uint8Array): Promise<void> {
  const sizeLine = encoder.encode(`${bytes.length.toString(16)}\r\n`);
  const parts = [sizeLine, bytes, crlf];
  if (bytes.length > joinedWriteBytes) { for (const part of parts) await writeAll(conn, part); }
  else await writeAll(conn, concatBytes(parts, sizeLine.length + bytes.length + 2));
}
