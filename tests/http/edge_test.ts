// The HTTP/1.1 edge alone: framing, limits, time bounds, streamed answers, aborts, upgrades, stop.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Hono } from "hono";
import { WebSocket as WsClient, WebSocketServer } from "ws";
import type { IncomingMessage } from "node:http";
import { readRaw } from "../../src/api/body.ts";
import { errorResponse } from "../../src/api/errors.ts";
import { RaftqError } from "../../src/errors.ts";
import { createHttpServer, type HttpServer } from "../../src/http/server.ts";
import { waitFor } from "../helpers/node_process.ts";
import { makeCertificates } from "../helpers/certificates.ts";
import { readUntil } from "../helpers/raw_conn.ts";

const encoder = new TextEncoder();
const maxBodyBytes = 1024;

/** A small app: echoes bodies through readRaw, streams, waits for an abort or a while. */
function edgeApp(log: string[]): Hono {
  const app = new Hono();
  app.onError((err, c) =>
    err instanceof RaftqError ? errorResponse(c, err) : c.json({ error: String(err) }, 500)
  );
  app.post("/echo", async (c) => c.body(await readRaw(c, maxBodyBytes)));
  app.post("/small", async (c) => c.body(await readRaw(c, 16)));
  app.get("/hello", (c) => c.text("hello"));
  // A fetch Response (a proxied answer, Response.json) is written as well as the light ones.
  app.get("/native", () => Response.json({ native: true }, { headers: { "x-kind": "native" } }));
  app.get("/stream", () => {
    const parts = ["one,", "two,", "three"];
    return new Response(
      new ReadableStream({
        pull(controller) {
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(encoder.encode(next));
        },
      }),
      { headers: { "content-type": "text/plain" } },
    );
  });
  app.get("/wait", (c) =>
    new Promise<Response>((resolve) => {
      log.push("enter /wait");
      c.req.raw.signal.addEventListener("abort", () => {
        log.push("abort /wait");
        resolve(c.text("gone"));
      });
    }));
  app.get("/held", async (c) => {
    log.push("enter /held");
    await new Promise((resolve) => setTimeout(resolve, 200));
    return c.text("held");
  });
  return app;
}

interface Served {
  server: HttpServer;
  log: string[];
  errors: string[];
  port: number;
}

async function withEdge(
  fn: (s: Served) => Promise<void>,
  timeouts?: { headersMs: number; requestMs: number; keepAliveMs: number; checkEveryMs: number },
  tls?: { cert: string; key: string },
  maxConnections = 32,
) {
  const log: string[] = [];
  const errors: string[] = [];
  const wss = new WebSocketServer({ noServer: true });
  const server = createHttpServer({
    fetch: edgeApp(log).fetch,
    maxConnections,
    maxBodyBytes,
    timeouts,
    tls,
    onUpgrade: (req, socket, head) =>
      wss.handleUpgrade(req as unknown as IncomingMessage, socket, Buffer.from(head), (ws) => {
        ws.on("message", (data, binary) => ws.send(data, { binary }));
      }),
    onError: (event, err) => errors.push(`${event}: ${err}`),
  });
  await server.listen("127.0.0.1", 0);
  try {
    await fn({ server, log, errors, port: server.port });
  } finally {
    await server.close(1_000);
    wss.close();
  }
}

/** A raw connection: send text, read everything until the server closes (or `until` matches). */
async function exchange(port: number, send: string | Uint8Array, until?: RegExp) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(typeof send === "string" ? encoder.encode(send) : send);
    return await readUntil(conn, until);
  } finally {
    conn.close();
  }
}

/** `n` distinct header fields. */
const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join("");
const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const post = (path: string, body: string, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

Deno.test("edge: keep-alive and pipelined requests are answered in order on one connection", () =>
  withEdge(async ({ port, errors }) => {
    const text = await exchange(
      port,
      post("/echo", "first") + get("/hello") + post("/echo", "third", "Connection: close\r\n"),
    );
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 3);
    assert.match(answers[0], /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 5\r\n\r\nfirst$/i);
    assert.match(answers[1], /\r\n\r\nhello$/);
    assert.match(answers[2], /connection: close\r\n[^]*\r\n\r\nthird$/i);
    assert.match(answers[0], /\r\ndate: [A-Z][a-z]{2}, /i);
    assert.match(answers[0], /\r\nkeep-alive: timeout=30\r\n/i);
    assert.deepEqual(errors, []);
  }));

Deno.test("edge: chunked bodies are decoded, and bounded like any other", () =>
  withEdge(async ({ port }) => {
    const chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n" + get("/hello");
    const text = await exchange(port, chunked, /\r\n\r\nhello$/);
    assert.match(text, /^HTTP\/1\.1 200 [^]*\r\n\r\nhello world/);
    const big = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `800\r\n${"a".repeat(0x800)}\r\n0\r\n\r\n`;
    const refused = await exchange(port, big);
    assert.match(refused, /^HTTP\/1\.1 413 [^]*connection: close[^]*"code":"payload_too_large"/i);
  }));

Deno.test("edge: a declared body over the bound is refused unread, and the connection closes", () =>
  withEdge(async ({ port }) => {
    const text = await exchange(
      port,
      `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${maxBodyBytes + 1}\r\n\r\n`,
    );
    assert.match(text, /^HTTP\/1\.1 413 [^]*"code":"payload_too_large"/);
    // A route's own smaller bound: the body was read whole, the answer the same.
    const small = await exchange(port, post("/small", "x".repeat(17)));
    assert.match(small, /^HTTP\/1\.1 413 [^]*The request body is larger than 16 bytes/);
  }));

Deno.test("edge: Expect 100-continue is answered before the body is sent", () =>
  withEdge(async ({ port }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(encoder.encode(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
      ));
      assert.match(await readUntil(conn, /\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      await conn.write(encoder.encode("body"));
      assert.match(await readUntil(conn, /body$/), /^HTTP\/1\.1 200 [^]*\r\n\r\nbody$/);
    } finally {
      conn.close();
    }
  }));

Deno.test("edge: HEAD answers carry no body; streamed answers are chunked", () =>
  withEdge(async ({ port }) => {
    const text = await exchange(
      port,
      `HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n` + get("/hello"),
      /hello$/,
    );
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2);
    assert.match(answers[0], /^HTTP\/1\.1 200 [^]*\r\n\r\n$/);
    assert.match(answers[1], /\r\n\r\nhello$/);
    const native = await fetch(`http://127.0.0.1:${port}/native`);
    assert.equal(native.headers.get("x-kind"), "native");
    assert.deepEqual(await native.json(), { native: true });
    const streamed = await exchange(port, get("/stream"), /0\r\n\r\n$/);
    assert.match(streamed, /transfer-encoding: chunked\r\n/i);
    assert.match(streamed, /\r\n\r\n4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n$/);
    const res = await fetch(`http://127.0.0.1:${port}/stream`);
    assert.equal(await res.text(), "one,two,three");
    // HTTP/1.0 has no chunks: the close marks the end.
    const old = await exchange(port, "GET /stream HTTP/1.0\r\n\r\n");
    assert.match(old, /^HTTP\/1\.1 200 [^]*connection: close\r\n[^]*\r\n\r\none,two,three$/i);
  }));

Deno.test("edge: malformed or smuggling-shaped requests get a JSON error and a close", () =>
  withEdge(async ({ port }) => {
    const cases: [string, RegExp][] = [
      [
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
        /^HTTP\/1\.1 400 /,
      ],
      [
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
        /^HTTP\/1\.1 400 /,
      ],
      ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", /^HTTP\/1\.1 501 /],
      [
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        /^HTTP\/1\.1 400 /,
      ],
      ["GET /hello HTTP/1.1\r\nHost: a/b\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET /hello HTTP/1.1\r\nBad Name: x\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET hello HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET /hello HTTP/2.0\r\n\r\n", /^HTTP\/1\.1 400 /],
      [get("/hello", "X-Long: " + "a".repeat(17_000) + "\r\n"), /^HTTP\/1\.1 431 /],
      [get("/hello", fields(100)), /^HTTP\/1\.1 431 /], // with Host, 101 fields
      [
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
        "e".repeat(1_100),
        /^HTTP\/1\.1 400 /,
      ],
    ];
    // At the bounds: 100 fields (Host among them) and a 1 KiB chunk-size line are served.
    const hundred = await exchange(port, get("/hello", fields(98) + "Connection: close\r\n"));
    assert.match(hundred, /^HTTP\/1\.1 200 /);
    const chunkLine = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" +
      `Connection: close\r\n\r\n2;${"e".repeat(1_000)}\r\nok\r\n0\r\n\r\n`;
    assert.match(await exchange(port, chunkLine), /^HTTP\/1\.1 200 [^]*\r\n\r\nok$/);
    for (const [send, status] of cases) {
      const text = await exchange(port, send);
      assert.match(text, status, JSON.stringify(send.slice(0, 80)));
      assert.match(text, /"code":"invalid_request"/);
      assert.match(text, /connection: close/i);
    }
  }));

Deno.test("edge: a client that leaves aborts its request's signal", () =>
  withEdge(async ({ port, log }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(get("/wait")));
    await waitFor("the request to be in the app", () => log.includes("enter /wait"), 5_000);
    conn.close();
    await waitFor("the abort", () => log.includes("abort /wait"), 5_000);
  }));

Deno.test("edge: slow heads and bodies get 408, idle connections close, all within bounds", () =>
  withEdge(async ({ port }) => {
    const slowHead = exchange(port, "GET /hello HTTP/1.1\r\nHost:");
    const slowBody = exchange(
      port,
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc",
    );
    const idleConn = await Deno.connect({ hostname: "127.0.0.1", port });
    const started = Date.now();
    assert.match(await slowHead, /^HTTP\/1\.1 408 [^]*"code":"request_timeout"/);
    assert.match(await slowBody, /^HTTP\/1\.1 408 /);
    assert.equal(await readUntil(idleConn), "", "an idle connection closes without a word");
    idleConn.close();
    assert.ok(Date.now() - started < 5_000);
  }, { headersMs: 300, requestMs: 600, keepAliveMs: 300, checkEveryMs: 100 }));

Deno.test("edge: a WebSocket upgrade hands the connection to ws, frames both ways", () =>
  withEdge(async ({ port }) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/raft`);
    ws.binaryType = "arraybuffer";
    const received: (string | number)[] = [];
    const done = Promise.withResolvers<void>();
    ws.onmessage = (e) => {
      received.push(typeof e.data === "string" ? e.data : (e.data as ArrayBuffer).byteLength);
      if (received.length === 3) done.resolve();
    };
    ws.onerror = () => done.reject(new Error("the socket failed"));
    await new Promise((resolve) => (ws.onopen = resolve));
    ws.send("first");
    ws.send(new Uint8Array(300_000));
    ws.send("last");
    await done.promise;
    assert.deepEqual(received, ["first", 300_000, "last"]);
    ws.close();
  }));

Deno.test("edge: stopping answers requests in flight, cuts them after the grace, refuses new ones", () =>
  withEdge(async ({ server, port, log }) => {
    const held = await Deno.connect({ hostname: "127.0.0.1", port });
    const waiting = await Deno.connect({ hostname: "127.0.0.1", port });
    const idle = await Deno.connect({ hostname: "127.0.0.1", port });
    await held.write(encoder.encode(get("/held")));
    await waiting.write(encoder.encode(get("/wait")));
    await waitFor("both requests in the app", () => log.length === 2, 5_000);
    const stopped = server.close(1_000);
    assert.equal(await readUntil(idle), "", "an idle connection closes at once");
    assert.match(await readUntil(held), /^HTTP\/1\.1 200 [^]*connection: close[^]*\r\n\r\nheld$/);
    await stopped;
    assert.ok(log.includes("abort /wait"), "a request still in flight at the grace's end is cut");
    for (const c of [held, waiting, idle]) c.close();
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  }));

Deno.test("edge: over TLS (node:tls), kept-alive requests, streams and a wss upgrade", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raftq-edge-tls-" });
  try {
    const paths = await makeCertificates(dir);
    const ca = await Deno.readTextFile(paths.ca);
    const keys = {
      cert: await Deno.readTextFile(paths.cert),
      key: await Deno.readTextFile(paths.key),
    };
    await withEdge(
      async ({ port, errors }) => {
        const client = Deno.createHttpClient({ caCerts: [ca] });
        try {
          for (const body of ["one", "two", "three"]) {
            const res = await fetch(`https://127.0.0.1:${port}/echo`, {
              method: "POST",
              body,
              client,
            });
            assert.equal(await res.text(), body);
          }
          const streamed = await fetch(`https://127.0.0.1:${port}/stream`, { client });
          assert.equal(await streamed.text(), "one,two,three");
        } finally {
          client.close();
        }
        const ws = new WsClient(`wss://127.0.0.1:${port}/raft`, { ca });
        const echoed = new Promise<string>((resolve, reject) => {
          ws.on("message", (data: Uint8Array) => resolve(new TextDecoder().decode(data)));
          ws.on("error", reject);
        });
        await new Promise((resolve, reject) => {
          ws.on("open", resolve);
          ws.on("error", reject);
        });
        ws.send("over wss");
        assert.equal(await echoed, "over wss");
        ws.close();
        assert.deepEqual(errors, []);
      },
      undefined,
      keys,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("edge: over TLS past the cap, with every connection busy, a newcomer gets the 503", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raftq-edge-tls-cap-" });
  try {
    const paths = await makeCertificates(dir);
    const caCerts = [await Deno.readTextFile(paths.ca)];
    const keys = {
      cert: await Deno.readTextFile(paths.cert),
      key: await Deno.readTextFile(paths.key),
    };
    await withEdge(
      async ({ port, log }) => {
        const dial = () => Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
        const busy = [await dial(), await dial()];
        try {
          for (const conn of busy) await conn.write(encoder.encode(get("/wait")));
          await waitFor("both requests in the app", () => log.length === 2, 5_000);
          const newcomer = await dial();
          const text = await readUntil(newcomer);
          newcomer.close();
          assert.match(
            text,
            /^HTTP\/1\.1 503 [^]*retry-after: 1[^]*"code":"too_many_connections"/i,
          );
        } finally {
          for (const conn of busy) conn.close();
        }
      },
      undefined,
      keys,
      2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
