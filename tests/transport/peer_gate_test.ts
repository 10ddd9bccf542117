// The peer handshake on its own: only a dialer that proves the secret gets a ticket, once.

import assert from "node:assert/strict";
import { hmacKey, newNonce, sign, transcript } from "../../src/transport/handshake.ts";
import {
  gateTuning,
  type Hello,
  otherProtocol,
  parseHello,
  PeerGate,
  peerProtocol,
} from "../../src/transport/peer_gate.ts";

function gate(clock: { ms: number }, cluster: string | null = "c1") {
  let adopted: string | null = null;
  const g = new PeerGate({
    selfId: "n1",
    key: hmacKey("the-cluster-secret-0123"),
    clusterId: () => cluster ?? adopted,
    adoptClusterId: (id) => {
      adopted = id;
      return true;
    },
    nowMs: () => clock.ms,
  });
  return { g, adopted: () => adopted };
}

async function helloFor(challenge: string, secret = "the-cluster-secret-0123"): Promise<Hello> {
  const nonce = newNonce();
  const mac = await sign(
    await hmacKey(secret),
    transcript("client", "c1", "n2", "n1", nonce, challenge),
  );
  return { v: peerProtocol, clusterId: "c1", nodeId: "n2", nonce, challenge, mac };
}

Deno.test("peer gate: a proven hello gets one ticket for one upgrade", async () => {
  const clock = { ms: 1000 };
  const { g } = gate(clock);
  const c = await g.challenge();
  assert.equal(c.nodeId, "n1");
  const r = await g.admit(await helloFor(c.nonce));
  assert.ok(r.ok);
  assert.equal(g.takeTicket(r.welcome.ticket), "n2");
  assert.equal(g.takeTicket(r.welcome.ticket), null, "a ticket opens one socket");
  assert.equal(g.takeTicket("made-up"), null);
});

Deno.test("peer gate: wrong secret, replayed or stale challenges, forged nonces are refused", async () => {
  const clock = { ms: 1000 };
  const { g } = gate(clock);
  const c = await g.challenge();
  const wrong = await g.admit(await helloFor(c.nonce, "another-secret-0123456"));
  assert.deepEqual(wrong, { ok: false, reason: "wrong cluster secret" });
  const good = await helloFor(c.nonce);
  assert.ok((await g.admit(good)).ok);
  const replay = await g.admit(good);
  assert.equal(replay.ok, false, "a challenge admits once");
  const old = await g.challenge();
  clock.ms += gateTuning.challengeTtlMs + 1;
  assert.equal((await g.admit(await helloFor(old.nonce))).ok, false, "challenges expire");
  const forged = `${"a".repeat(64)}.${clock.ms}.${"b".repeat(64)}`;
  assert.equal((await g.admit(await helloFor(forged))).ok, false, "nonces carry a tag");
  const fresh = await g.challenge();
  const r = await g.admit(await helloFor(fresh.nonce));
  assert.ok(r.ok);
  clock.ms += gateTuning.ticketTtlMs + 1;
  assert.equal(g.takeTicket(r.welcome.ticket), null, "tickets expire");
});

Deno.test("peer gate: a joining node adopts the cluster of the first proven hello", async () => {
  const { g, adopted } = gate({ ms: 0 }, null);
  const c = await g.challenge();
  assert.equal(c.clusterId, null);
  assert.ok((await g.admit(await helloFor(c.nonce))).ok);
  assert.equal(adopted(), "c1");
});

Deno.test("peer gate: a node of another peer protocol is told so, in words", async () => {
  const clock = { ms: 1000 };
  const { g } = gate(clock);
  const c = await g.challenge();
  assert.equal(c.v, peerProtocol);
  const old = { ...(await helloFor(c.nonce)), v: peerProtocol - 1 };
  assert.equal(parseHello(old), null, "a hello of an older protocol is not one of this node's");
  assert.match(
    otherProtocol(old) ?? "",
    new RegExp(
      `peer protocol ${peerProtocol}, the dialer ${peerProtocol - 1}: run one raftq version`,
    ),
  );
  assert.equal(otherProtocol(await helloFor(c.nonce)), null);
  assert.equal(otherProtocol({ junk: 1 }), null, "not a hello at all: no version to name");
});
