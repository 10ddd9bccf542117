// What an idle connection holds: its read buffer, and its answer buffer only until the next tick.

import assert from "node:assert/strict";
import { type ConnectionHooks, HttpConnection } from "../../src/http/connection.ts";
import type { ByteConn } from "../../src/http/socket_conn.ts";
import { waitFor } from "../helpers/node_process.ts";

const bounds = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 30_000 };

/** A connection that delivers one request, then waits for more until closed. */
function fakeConn(request: string): ByteConn & { written: string[] } {
  let sent = false;
  let closed: () => void = () => {};
  const closedSignal = new Promise<void>((resolve) => (closed = resolve));
  const written: string[] = [];
  return {
    written,
    read(p: Uint8Array) {
      if (sent) return closedSignal.then(() => null);
      sent = true;
      const { written: n } = new TextEncoder().encodeInto(request, p);
      return Promise.resolve(n);
    },
    write(p: Uint8Array) {
      written.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
    closeWrite: () => Promise.resolve(),
    close: () => closed(),
  };
}

Deno.test("connection: an idle connection keeps its read buffer and lets its answer buffer go", async () => {
  const conn = fakeConn("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  const hooks: ConnectionHooks = {
    fetch: () => new Response("ok"),
    maxBodyBytes: 1024,
    scheme: "http",
    upgrade: () => assert.fail("no upgrade"),
    busy: () => {},
    closed: () => {},
    stopping: () => false,
    date: () => "Thu, 01 Jan 1970 00:00:00 GMT",
    keepAliveLine: "keep-alive: timeout=30\r\n",
    onError: (event, err) => assert.fail(`${event}: ${err}`),
  };
  const connection = new HttpConnection(conn, hooks);
  const run = connection.run();
  await waitFor("the answer", () => connection.served === 1 && connection.state === "idle", 5_000);
  assert.match(conn.written.join(""), /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(connection.heldBytes, 4096 + 8192, "read and answer buffers after an answer");
  connection.expire(Date.now(), bounds);
  assert.equal(connection.heldBytes, 4096, "the answer buffer goes at the next tick");
  assert.equal(connection.state, "idle", "the connection itself stays");
  connection.close();
  await run;
});
