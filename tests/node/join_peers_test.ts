// A joining node's early peers: the members its --join URL's /admin/status lists, itself and
// malformed entries left out; none when no URL answers.

import assert from "node:assert/strict";
import type { ServeConfig } from "../../src/config.ts";
import { joinAnswerMaxBytes, joinPeers } from "../../src/node/join.ts";

Deno.test("join: a joining node reads whom to dial from its --join URL's status", async () => {
  const members = [
    { id: "n1", url: "http://127.0.0.1:7401", voter: true },
    { id: "n4", url: "http://127.0.0.1:7404", voter: false }, // itself
    { id: "n2", url: "ftp://elsewhere", voter: true },
    { id: 3, url: "http://127.0.0.1:7403" },
    null,
  ];
  const seen: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push(req.headers.get("authorization"));
    return Response.json({ members });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const cfg = { joinUrls: ["http://127.0.0.1:1", url], token: "t0ken" } as ServeConfig;
    assert.deepEqual(await joinPeers(cfg, "n4"), [{ id: "n1", url: "http://127.0.0.1:7401" }]);
    assert.deepEqual(seen, ["Bearer t0ken"]);
    // A status listing more members than a membership may hold: only that many are dialled.
    members.splice(
      0,
      members.length,
      ...Array.from({ length: 1_500 }, (_, k) => ({
        id: `m${k}`,
        url: `http://127.0.0.1:${10_000 + k}`,
        voter: true,
      })),
    );
    assert.equal((await joinPeers(cfg, "n4")).length, 1_000);
    const none = { joinUrls: ["http://127.0.0.1:1"] } as ServeConfig;
    assert.deepEqual(await joinPeers(none, "n4"), [], "no URL answers: none");
  } finally {
    await server.shutdown();
  }
});

Deno.test("join: a status answer longer than the limit is not read, declared or streamed", async () => {
  let streamed = false;
  const pad = "x".repeat(joinAnswerMaxBytes);
  const member = { id: "n1", url: "http://127.0.0.1:7401" };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    if (!streamed) return Response.json({ members: [member], pad }); // (its length declared)
    const text = new TextEncoder().encode(JSON.stringify({ members: [member], pad }));
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let at = 0; at < text.length; at += 65_536) c.enqueue(text.slice(at, at + 65_536));
        c.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  try {
    const cfg = { joinUrls: [`http://127.0.0.1:${server.addr.port}`] } as ServeConfig;
    assert.deepEqual(await joinPeers(cfg, "n4"), [], "declared too long");
    streamed = true;
    assert.deepEqual(await joinPeers(cfg, "n4"), [], "streamed too long");
    const fits = "x".repeat(joinAnswerMaxBytes - 1_000);
    const small = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json({ members: [member], pad: fits }),
    );
    try {
      const at = { joinUrls: [`http://127.0.0.1:${small.addr.port}`] } as ServeConfig;
      assert.deepEqual(await joinPeers(at, "n4"), [member], "just under the limit: read");
    } finally {
      await small.shutdown();
    }
  } finally {
    await server.shutdown();
  }
});
