// x-raftq-leader on every answer: set on node:http's response, or through Hono without one.

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { nameLeader } from "../../src/api/app.ts";

/** An app naming "n1" as the leader, as createApp's middleware does, with three kinds of answer. */
function leaderApp(): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    nameLeader(c, "n1");
    await next();
  });
  app.get("/json", (c) => c.json({ ok: true }, 201));
  app.get("/error", (c) => c.json({ error: { code: "not_found" } }, 404, { "retry-after": "1" }));
  // A handler that names another leader (a forwarded answer, a handed-over removal) wins.
  app.get("/own", () =>
    new Response("{}", {
      headers: { "content-type": "application/json", "x-raftq-leader": "n9" },
    }));
  return app;
}

async function serveOnNodeHttp(app: Hono): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

Deno.test("served by node:http, each answer names the leader once; a handler's own name wins", async () => {
  const served = await serveOnNodeHttp(leaderApp());
  try {
    for (
      const [path, status, leader] of [
        ["/json", 201, "n1"],
        ["/error", 404, "n1"],
        ["/own", 200, "n9"],
      ] as const
    ) {
      const res = await fetch(`${served.url}${path}`);
      await res.body?.cancel();
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get("x-raftq-leader"), leader, path);
      assert.equal(res.headers.get("content-type"), "application/json", path);
    }
    const error = await fetch(`${served.url}/error`);
    assert.deepEqual(await error.json(), { error: { code: "not_found" } });
    assert.equal(error.headers.get("retry-after"), "1");
  } finally {
    await served.close();
  }
});

Deno.test("answered without node:http (app.request), the leader is named through Hono", async () => {
  const app = leaderApp();
  for (const [path, leader] of [["/json", "n1"], ["/error", "n1"], ["/own", "n9"]]) {
    const res = await app.request(path);
    await res.body?.cancel();
    assert.equal(res.headers.get("x-raftq-leader"), leader, path);
  }
});
