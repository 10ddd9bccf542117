// Bearer-token authentication: the token alone opens the routes it guards; the open paths need none.

import assert from "node:assert/strict";
import { Hono } from "hono";
import { tokenCheck } from "../../src/api/auth.ts";

function app(token: string | undefined): Hono {
  const a = new Hono();
  const refusal = tokenCheck(token, ["/healthz"]);
  a.use("*", async (c, next) => {
    const refused = refusal(c);
    if (refused) return refused;
    await next();
  });
  a.get("/healthz", (c) => c.text("up"));
  a.get("/v1/queues", (c) => c.text("queues"));
  return a;
}

async function get(a: Hono, path: string, authorization?: string) {
  const headers = authorization === undefined ? undefined : { authorization };
  const res = await a.request(path, { headers });
  return {
    status: res.status,
    body: await res.text(),
    challenge: res.headers.get("www-authenticate"),
  };
}

Deno.test("auth: the token opens guarded routes; anything else is 401 with a challenge", async () => {
  const token = "s3cret-token-0123456789";
  const a = app(token);
  assert.deepEqual(await get(a, "/v1/queues", `Bearer ${token}`), {
    status: 200,
    body: "queues",
    challenge: null,
  });
  assert.equal((await get(a, "/v1/queues", `bearer ${token}`)).status, 200);
  const refused = [
    undefined,
    "",
    token,
    `Bearer ${token.slice(0, -1)}x`,
    `Bearer ${token}x`,
    `Bearer ${token.slice(1)}`,
    "Bearer ",
    `Basic ${token}`,
  ];
  for (const header of refused) {
    const r = await get(a, "/v1/queues", header);
    assert.equal(r.status, 401, String(header));
    assert.equal(JSON.parse(r.body).error.code, "unauthorized");
    assert.equal(r.challenge, 'Bearer realm="raftq"');
  }
  assert.deepEqual(await get(a, "/healthz"), { status: 200, body: "up", challenge: null });
});

Deno.test("auth: with no token configured every route is open", async () => {
  const a = app(undefined);
  assert.equal((await get(a, "/v1/queues")).status, 200);
  assert.equal((await get(a, "/v1/queues", "Bearer anything")).status, 200);
});
