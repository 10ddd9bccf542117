// Bearer-token authentication for every route but /healthz, compared in constant time.

import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { RaftqError } from "../errors.ts";
import { errorResponse } from "./errors.ts";

const sha256 = (text: string): Uint8Array => createHash("sha256").update(text).digest();

/**
 * Whether `given` is the secret whose SHA-256 is `expected`. Digests of equal length are compared
 * in constant time, so the answer tells nothing of where, or whether by length, the two differ.
 * Synchronous: WebCrypto's two asynchronous digests a request cost a node 40–80 µs of CPU
 * (docs/benchmarks.md, "The token check").
 */
function matchesDigest(given: string, expected: Uint8Array): boolean {
  return timingSafeEqual(sha256(given), expected);
}

/**
 * The token check of every request but those to `open` paths: null lets it through, else the 401
 * answer (with its challenge). Synchronous: the app's one edge middleware runs it inline.
 */
export function tokenCheck(
  token: string | undefined,
  open: readonly string[],
): (c: Context) => Response | null {
  const expected = token === undefined ? null : sha256(token);
  return (c) => {
    if (expected === null || open.includes(c.req.path)) return null;
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer (.+)$/i.exec(header);
    if (m && matchesDigest(m[1], expected)) return null;
    c.header("WWW-Authenticate", 'Bearer realm="raftq"');
    return errorResponse(c, new RaftqError("unauthorized", "A valid bearer token is required"));
  };
}
