// x-raftq-leader on every answer: written by the HTTP edge, or through Hono without it.

import assert from "node:assert/strict";
import { Hono } from "hono";
import { nameLeader } from "../../src/api/app.ts";
import { createHttpServer } from "../../src/http/server.ts";

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

Deno.test("served by the edge, each answer names the leader once; a handler's own name wins", async () => {
  const server = createHttpServer({
    fetch: leaderApp().fetch,
    maxConnections: 16,
    maxBodyBytes: 1024,
    onUpgrade: (_req, socket) => socket.destroy(),
    onError: (event, err) => assert.fail(`${event}: ${err}`),
  });
  await server.listen("127.0.0.1", 0);
  const url = `http://127.0.0.1:${server.port}`;
  try {
    for (
      const [path, status, leader] of [
        ["/json", 201, "n1"],
        ["/error", 404, "n1"],
        ["/own", 200, "n9"],
      ] as const
    ) {
      const res = await fetch(`${url}${path}`);
      await res.body?.cancel();
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get("x-raftq-leader"), leader, path);
      assert.equal(res.headers.get("content-type"), "application/json", path);
    }
    const error = await fetch(`${url}/error`);
    assert.deepEqual(await error.json(), { error: { code: "not_found" } });
    assert.equal(error.headers.get("retry-after"), "1");
  } finally {
    await server.close(1_000);
  }
});

Deno.test("answered without the edge (app.request), the leader is named through Hono", async () => {
  const app = leaderApp();
  for (const [path, leader] of [["/json", "n1"], ["/error", "n1"], ["/own", "n9"]]) {
    const res = await app.request(path);
    await res.body?.cancel();
    assert.equal(res.headers.get("x-raftq-leader"), leader, path);
  }
});
