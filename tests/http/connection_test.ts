// One connection driven by a scripted socket: the reads it is given, what it holds, what it writes.

import assert from "node:assert/strict";
import { type ConnectionHooks, HttpConnection } from "../../src/http/connection.ts";
import type { ByteConn } from "../../src/http/socket_conn.ts";
import { waitFor } from "../helpers/node_process.ts";

const bounds = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 30_000 };

/** A socket whose reads return `pieces` one by one, then wait until it is closed. */
function scriptedConn(pieces: string[]): ByteConn & { written: string[] } {
  const left = [...pieces];
  let closed: () => void = () => {};
  const closedSignal = new Promise<void>((resolve) => (closed = resolve));
  const written: string[] = [];
  return {
    written,
    read(p: Uint8Array) {
      const piece = left.shift();
      if (piece === undefined) return closedSignal.then(() => null);
      const { read, written: n } = new TextEncoder().encodeInto(piece, p);
      if (read < piece.length) left.unshift(piece.slice(read)); // the rest on the next read
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

function hooks(fetch: ConnectionHooks["fetch"]): ConnectionHooks {
  return {
    fetch,
    maxBodyBytes: 1024,
    scheme: "http",
    upgrade: () => assert.fail("no upgrade"),
    closed: () => {},
    stopping: () => false,
    date: () => "Thu, 01 Jan 1970 00:00:00 GMT",
    keepAliveLine: "keep-alive: timeout=30\r\n",
    onError: (event, err) => assert.fail(`${event}: ${err}`),
  };
}

Deno.test("connection: an idle connection keeps its read buffer and lets its answer buffer go", async () => {
  const conn = scriptedConn(["GET /x HTTP/1.1\r\nHost: a\r\n\r\n"]);
  const connection = new HttpConnection(conn, hooks(() => new Response("ok")));
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

Deno.test("connection: a body at the bound read in a hundred-byte reads arrives whole", async () => {
  const body = Array.from({ length: 1024 }, (_, i) => String.fromCharCode(97 + i % 26)).join("");
  const pieces = [`POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`];
  for (let at = 0; at < body.length; at += 100) pieces.push(body.slice(at, at + 100));
  const received: string[] = [];
  const conn = scriptedConn(pieces);
  const connection = new HttpConnection(
    conn,
    hooks(async (request) => {
      received.push(await request.text());
      return new Response("ok");
    }),
  );
  const run = connection.run();
  await waitFor("the answer", () => connection.served === 1, 5_000);
  assert.deepEqual(received, [body]);
  connection.close();
  await run;
});
