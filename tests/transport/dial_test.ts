// A dialer links only with a peer of its own protocol, and says why not in words.

import assert from "node:assert/strict";
import { dialPeer, DialRefused } from "../../src/transport/dial.ts";
import { hmacKey } from "../../src/transport/handshake.ts";
import { peerProtocol } from "../../src/transport/peer_gate.ts";

Deno.test("dial: a peer of another peer protocol is refused before any hello", async () => {
  let hellos = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/raft/hello") hellos++;
    return Response.json({
      v: peerProtocol - 1,
      clusterId: "c1",
      nodeId: "n2",
      nonce: "ab".repeat(32),
    });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const options = { selfId: "n1", clusterId: "c1", key: hmacKey("s"), timeoutMs: 2000 };
    const refused = await dialPeer({ id: "n2", url }, options).catch((e) => e);
    assert.ok(refused instanceof DialRefused, String(refused));
    assert.match(
      refused.message,
      new RegExp(
        `speaks peer protocol ${
          peerProtocol - 1
        }, this node ${peerProtocol}: run one raftq version`,
      ),
    );
    assert.equal(hellos, 0, "no hello was sent");
  } finally {
    await server.shutdown();
  }
});
