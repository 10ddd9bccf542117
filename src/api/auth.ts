// Bearer-token authentication for every route but /healthz, compared in constant time.

import type { MiddlewareHandler } from "hono";
import { RaftqError } from "../errors.ts";
import { errorResponse } from "./errors.ts";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares two secrets without leaking where (or whether by length) they differ. */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

export function bearerAuth(token: string | undefined, open: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined || open.includes(c.req.path)) return await next();
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer (.+)$/i.exec(header);
    if (!m || !(await constantTimeEqual(m[1], token))) {
      c.header("WWW-Authenticate", 'Bearer realm="raftq"');
      return errorResponse(c, new RaftqError("unauthorized", "A valid bearer token is required"));
    }
    await next();
  };
}
