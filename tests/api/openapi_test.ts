// The OpenAPI document: committed as generated, served, and listing exactly the app's routes.

import assert from "node:assert/strict";
import type { Hono } from "hono";
import { openApiDocument } from "../../src/api/openapi.ts";
import { peerRoutes } from "../../src/api/peer_route.ts";
import { routeDocs } from "../../src/api/route_docs.ts";
import type { WsTransport } from "../../src/transport/transport.ts";
import { openApiFile } from "../../scripts/openapi.ts";
import { startInProcessNode } from "../helpers/in_process.ts";

/** method and path of every route a Hono app serves (middleware, registered for ALL, aside). */
function served(app: Hono): string[] {
  const routes = app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);
  return [...new Set(routes)].sort();
}

Deno.test("openapi: docs/openapi.json is what the code generates", async () => {
  const committed = JSON.parse(await Deno.readTextFile(openApiFile));
  assert.deepEqual(
    committed,
    JSON.parse(JSON.stringify(openApiDocument())),
    `${openApiFile} is stale: run \`deno task openapi\` and commit it`,
  );
});

Deno.test("openapi: every route the app serves is documented, and nothing else", async () => {
  const node = await startInProcessNode();
  try {
    const app = node.app;
    // The peer routes are only registered with a transport; their paths are what matter here.
    peerRoutes(app, {} as WsTransport);
    const documented = routeDocs.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    assert.deepEqual(served(app), documented);
  } finally {
    await node.stop();
  }
});

Deno.test("openapi: GET /openapi.json serves the document, version 3.1", async () => {
  const node = await startInProcessNode();
  try {
    const r = await node.call(`${node.url}/openapi.json`, "GET");
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, "3.1.1");
    assert.ok(r.body.paths["/v1/jobs/{id}/release"].post.requestBody);
    assert.deepEqual(r.body, JSON.parse(JSON.stringify(openApiDocument())));
  } finally {
    await node.stop();
  }
});

Deno.test("openapi: request schemas carry the limits the validators enforce", () => {
  type Schema = { properties: Record<string, { minimum?: number; maximum?: number }> };
  const doc = openApiDocument() as {
    paths: Record<
      string,
      Record<string, { requestBody: { content: Record<string, { schema: Schema }> } }>
    >;
  };
  const claim = doc.paths["/v1/queues/{queue}/claim"].post.requestBody.content["application/json"]
    .schema as Schema & { additionalProperties: boolean };
  const { max, waitMs } = claim.properties;
  assert.deepEqual([max.minimum, max.maximum, waitMs.maximum], [1, 100, 20_000]);
  assert.equal(claim.additionalProperties, false);
});
