// An entry a peer frame could not carry is refused before it is proposed, however it got so large.

import assert from "node:assert/strict";
import {
  decodeCommand,
  encodeCommand,
  maxEntryBytes,
  overEntryBytes,
} from "../../src/queue/commands.ts";
import { encodeProposals } from "../../src/node/encode_proposals.ts";
import { maxFrameChars } from "../../src/transport/frames.ts";

Deno.test("entry bytes: counted in UTF-8, where escaping and wide characters add up", () => {
  assert.ok(maxEntryBytes < maxFrameChars, "an entry fits one frame, header and all");
  assert.equal(overEntryBytes("a".repeat(100), 100), false);
  assert.equal(overEntryBytes("a".repeat(101), 100), true);
  assert.equal(overEntryBytes("é".repeat(50), 100), false, "two bytes each: 100");
  assert.equal(overEntryBytes("€".repeat(34), 100), true, "three bytes each: 102");
  // A payload of quotes: its JSON text escapes each once, the entry each again.
  const quotes = JSON.stringify('"'.repeat(30));
  const data = encodeCommand({
    type: "enqueue",
    queue: "q",
    jobs: [{ payload: quotes, delayMs: 0, priority: 0 }],
  }, 1);
  assert.ok(data.length > 4 * 30, `${data.length} characters for 30 quotes`);
  assert.equal(overEntryBytes(data, data.length - 1), true);
  assert.equal(overEntryBytes(data, data.length), false);
});

Deno.test("entry bytes: a node proposes a command's UTF-8, and reads a command from text or bytes", () => {
  const cmd = {
    type: "enqueue" as const,
    queue: "q",
    jobs: [{ payload: '{"name":"é 😀 \\u0000"}', delayMs: 0, priority: 0 }],
  };
  const { datas } = encodeProposals([{ cmd, resolve: () => {}, reject: () => {} }], 7);
  const text = encodeCommand(cmd, 7);
  assert.ok(datas[0] instanceof Uint8Array);
  assert.deepEqual(datas[0], new TextEncoder().encode(text));
  assert.deepEqual(decodeCommand(datas[0]), decodeCommand(text));
  assert.deepEqual(decodeCommand(datas[0])?.cmd, cmd);
  const notUtf8 = datas[0].slice();
  notUtf8[3] = 0xff;
  assert.equal(decodeCommand(notUtf8), null, "bytes that are not UTF-8 hold no command");
});
