// Reads a JSON request body with a size limit, without reading an oversized body whole.

import type { Context } from "hono";
import { RaftqError } from "../errors.ts";
import { JsonBodyError, parseBody } from "./json_body.ts";
import { readAtMost } from "../buffers.ts";
import { EdgeRequest } from "../http/request.ts";
import { decodeUtf8 } from "../utf8.ts";

const tooLarge = (max: number) =>
  new RaftqError("payload_too_large", `The request body is larger than ${max} bytes`);

/**
 * The raw body, at most `maxBytes` (else 413); empty when there is none. A client that goes away
 * mid-body gets a 400 it will never read (nothing to log: it was the client's doing).
 */
export async function readRaw(c: Context, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await readLimited(c, maxBytes);
  } catch (err) {
    if (err instanceof RaftqError) throw err;
    throw new RaftqError("invalid_request", "The request body ended before its declared end");
  }
}

async function readLimited(c: Context, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  // Served by the edge: the body was read there, bounded by --max-body-bytes.
  const raw = c.req.raw as unknown;
  if (raw instanceof EdgeRequest) return edgeBody(raw, maxBytes);
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  if (declared !== undefined) {
    // The size is known and within the limit: read it in one go.
    const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    if (bytes.length > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  const bytes = await readAtMost(body, maxBytes);
  if (!bytes) throw tooLarge(maxBytes);
  return bytes;
}

function edgeBody(raw: EdgeRequest, maxBytes: number): Uint8Array<ArrayBuffer> {
  const body = raw.takeBody();
  // (The edge's bound is --max-body-bytes, which no route's own bound exceeds.)
  if (body === "too_large" || (body !== "cut_short" && body.length > maxBytes)) {
    throw tooLarge(maxBytes);
  }
  if (body === "cut_short") throw new Error("the request closed before its end");
  return body;
}

/** The body as JSON (see readJson), or undefined when the request has none. */
export async function readOptionalJson(c: Context, maxBytes: number): Promise<unknown> {
  const bytes = await readRaw(c, maxBytes);
  if (bytes.length === 0) return undefined;
  return parseJsonBytes(bytes, []);
}

/**
 * The body as JSON: the request's own fields as plain values, users' JSON at the `opaque` paths
 * (see parseBody) as RawJson, exactly as sent.
 */
export async function readJson(
  c: Context,
  maxBytes: number,
  opaque: readonly string[] = [],
): Promise<unknown> {
  const bytes = await readRaw(c, maxBytes);
  if (bytes.length === 0) throw new RaftqError("invalid_request", "The request needs a JSON body");
  return parseJsonBytes(bytes, opaque);
}

function parseJsonBytes(bytes: Uint8Array, opaque: readonly string[]): unknown {
  const text = decodeUtf8(bytes);
  if (text === null) throw new RaftqError("invalid_request", "The request body is not UTF-8");
  if (text.trim() === "") throw new RaftqError("invalid_request", "The request needs a JSON body");
  try {
    return parseBody(text, opaque);
  } catch (err) {
    if (!(err instanceof JsonBodyError)) throw err;
    throw new RaftqError(
      "invalid_request",
      err.overLimit ? err.message : `The request body is not valid JSON: ${err.message}`,
    );
  }
}
