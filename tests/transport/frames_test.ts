// Snapshot chunks on the wire: bytes in, the same bytes out; a chunk that is not base64 is dropped.

import assert from "node:assert/strict";
import type { Message } from "../../src/raft/mod.ts";
import { decodeFrame, encodeFrame } from "../../src/transport/frames.ts";

const membership = {
  members: [{ id: "a", url: "http://a", voter: true }, { id: "b", url: "http://b", voter: true }],
};

function snapshotFrame(chunk: Uint8Array): { t: "raft"; ms: Message[] } {
  const meta = { index: 7, term: 2, membership };
  const m = { type: "snapshot", term: 2, from: "a", to: "b", meta, offset: 0, chunk, done: false };
  return { t: "raft", ms: [m as unknown as Message] };
}

Deno.test("frames: a snapshot chunk of any bytes and length crosses unchanged", () => {
  for (const length of [0, 1, 2, 3, 255, 256, 65_537]) {
    const chunk = new Uint8Array(length).map((_, i) => (i * 7919) & 0xff);
    const back = decodeFrame(encodeFrame(snapshotFrame(chunk)));
    assert.ok(back && back.t === "raft", `length ${length} decodes`);
    const m = back.ms[0];
    assert.ok(m.type === "snapshot" && m.chunk instanceof Uint8Array);
    assert.deepEqual([...m.chunk], [...chunk]);
  }
});

Deno.test("frames: a chunk that is not base64 drops the frame", () => {
  const good = encodeFrame(snapshotFrame(new Uint8Array([1, 2, 3])));
  const encoded = new Uint8Array([1, 2, 3]).toBase64();
  assert.ok(good.includes(encoded) && decodeFrame(good), "the good frame decodes");
  for (const bad of ["@@@@", "A", "A=B=", "\u00e9AAA"]) {
    assert.equal(decodeFrame(good.replace(encoded, bad)), null, `chunk "${bad}"`);
  }
});
