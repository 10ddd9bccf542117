// Raft frames on the wire: binary with raw entry data and chunks; text when binary cannot carry it.

import assert from "node:assert/strict";
import type { Entry, Message } from "../../src/raft/mod.ts";
import { maxBlobsPerFrame } from "../../src/transport/binary_frames.ts";
import { decodeFrame, encodeFrame, type Frame } from "../../src/transport/frames.ts";
import { RawJson, stringifyWithRaw } from "../../src/queue/json_text.ts";

const membership = {
  members: [{ id: "a", url: "http://a", voter: true }, { id: "b", url: "http://b", voter: true }],
};

function snapshotMessage(chunk: Uint8Array): Message {
  const meta = { index: 7, term: 2, membership };
  const m = { type: "snapshot", term: 2, from: "a", to: "b", meta, offset: 0, chunk, done: false };
  return m as unknown as Message;
}

function appendMessage(data: (string | Uint8Array)[]): Message {
  const entries: Entry[] = data.map((d, k) => ({
    index: 11 + k,
    term: 2,
    kind: "normal",
    data: d,
  }));
  const m = {
    type: "append",
    term: 2,
    from: "a",
    to: "b",
    prevIndex: 10,
    prevTerm: 2,
    entries,
    commit: 9,
  };
  return m as unknown as Message;
}

const raft = (...ms: Message[]): Frame => ({ t: "raft", ms });
const utf8 = new TextEncoder();

/** `frame` as a binary frame delivers it: entry data as UTF-8 bytes (see EntryData). */
function asDelivered(frame: Frame): Frame {
  if (frame.t !== "raft") return frame;
  const ms = frame.ms.map((m) =>
    m.type !== "append" ? m : {
      ...m,
      entries: m.entries.map((e) => ({
        ...e,
        data: typeof e.data === "string" ? utf8.encode(e.data) : e.data,
      })),
    }
  );
  return { t: "raft", ms };
}
const heartbeat = JSON.stringify({
  type: "heartbeat",
  term: 2,
  from: "a",
  to: "b",
  commit: 1,
  readSeq: 0,
});

Deno.test("frames: a snapshot chunk of any bytes and length crosses unchanged, raw", () => {
  for (const length of [0, 1, 2, 3, 255, 256, 65_537]) {
    const chunk = new Uint8Array(length).map((_, i) => (i * 7919) & 0xff);
    const wire = encodeFrame(raft(snapshotMessage(chunk)));
    assert.ok(wire instanceof Uint8Array && wire.length < length + 400, "binary, no base64");
    const back = decodeFrame(wire);
    assert.ok(back && back.t === "raft", `length ${length} decodes`);
    const m = back.ms[0];
    assert.ok(m.type === "snapshot" && m.chunk instanceof Uint8Array);
    assert.deepEqual([...m.chunk], [...chunk]);
    assert.ok(decodeFrame(wire.buffer), "also as an ArrayBuffer (the dialer's sockets)");
  }
});

Deno.test("frames: entry data of any text arrives as its UTF-8, without escaping", () => {
  const data = [
    '{"payload":{"q":"\\"quoted\\""}}',
    "é 😀 \u0000 \\",
    "",
    "\ufeffstarts with a byte order mark",
    "x".repeat(10_000),
    utf8.encode('{"given":"as bytes", "é": "😀"}'),
  ];
  const frame = raft(appendMessage(data), snapshotMessage(new Uint8Array([9])));
  const wire = encodeFrame(frame);
  assert.ok(wire instanceof Uint8Array);
  assert.ok(wire.length < 10_550 + 600, `${wire.length} bytes: the quotes were not escaped`);
  const back = decodeFrame(wire);
  assert.deepEqual(back, asDelivered(frame));
  // Each datum is a copy: the frame's buffer is let go once decoded (releaseBuffer).
  assert.ok(back?.t === "raft" && back.ms[0].type === "append");
  for (const e of back.ms[0].entries) {
    assert.ok(e.data instanceof Uint8Array && e.data.buffer !== wire.buffer);
  }
});

Deno.test("frames: entries of every size cross unchanged, frame after frame", () => {
  // Sizes from none to 1.5 MB; text of one, two, three and four bytes a character; chunks
  // between the entries.
  const pieces = ["a", "é", "€", "😀"];
  const text = (n: number, k: number) => pieces[k % 4].repeat(n);
  const sizes = [0, 1, 21_000, 70_000, 700_000, 1_500_000, 3];
  const frames: { wire: Uint8Array; frame: Frame }[] = [];
  for (let round = 0; round < 3; round++) {
    // (in the last round, the data is given as bytes)
    const data = sizes.map((n, k) => round < 2 ? text(n, k + round) : utf8.encode(text(n, k)));
    const frame = raft(
      appendMessage(data.slice(0, 3)),
      snapshotMessage(new Uint8Array([round, 7])),
      appendMessage(data.slice(3)),
    );
    const wire = encodeFrame(frame);
    assert.ok(wire instanceof Uint8Array, `round ${round} is binary`);
    frames.push({ wire, frame });
  }
  // Every frame decodes as made, whatever was encoded after it.
  for (const { wire, frame } of frames) assert.deepEqual(decodeFrame(wire), asDelivered(frame));
});

Deno.test("frames: data binary cannot carry (a lone surrogate) goes as text, unchanged", () => {
  const frame = raft(appendMessage(["a\ud800b"]), snapshotMessage(new Uint8Array([1, 2, 3])));
  const wire = encodeFrame(frame);
  assert.equal(typeof wire, "string");
  assert.deepEqual(decodeFrame(wire), frame);
  // Data held as bytes beside it crosses in the text frame too (base64), as bytes.
  const mixed = raft(appendMessage(["a\ud800b", utf8.encode('{"é":1}')]));
  const text = encodeFrame(mixed);
  assert.equal(typeof text, "string");
  assert.deepEqual(decodeFrame(text), mixed);
  // In a text frame a chunk is base64; anything else there drops the frame.
  const encoded = new Uint8Array([1, 2, 3]).toBase64();
  for (const bad of ["@@@@", "A", "A=B=", "\u00e9AAA"]) {
    assert.equal(decodeFrame((wire as string).replace(encoded, bad)), null, `chunk "${bad}"`);
  }
});

Deno.test("frames: a forwarded claim's answer keeps users' JSON as its exact text", () => {
  // Text JSON.parse would change: a 20-digit number, 1.0, a __proto__ key, spacing.
  const payload = '{"big": 12345678901234567890, "f": 1.0, "__proto__": {"x": [ ]}}';
  const result = {
    type: "claimed",
    jobs: [{
      id: "7-0",
      payload: new RawJson(payload),
      dependencyResults: { "6-0": new RawJson("2.50") },
    }],
  };
  const frame = decodeFrame(encodeFrame({ t: "propResult", id: 3, result }));
  assert.ok(frame?.t === "propResult" && "result" in frame);
  const [job] = frame.result.jobs as { payload: unknown; dependencyResults: unknown }[];
  assert.ok(job.payload instanceof RawJson);
  assert.equal(job.payload.text, payload);
  assert.equal(stringifyWithRaw(frame.result), stringifyWithRaw(result));
  // Raw JSON that is not text (from a broken or hostile peer) drops the frame.
  const text = encodeFrame({ t: "propResult", id: 3, result }) as string;
  const forged = text.replace(JSON.stringify(payload), "42");
  assert.notEqual(forged, text);
  assert.equal(decodeFrame(forged), null);
});

Deno.test("frames: a damaged binary frame is dropped, never thrown", () => {
  const good = encodeFrame(raft(appendMessage(["abc", "déf"]))) as Uint8Array;
  assert.ok(decodeFrame(good));
  const headLength = new DataView(good.buffer).getUint32(1);
  const blobsAt = 5 + headLength;
  const edit = (f: (b: Uint8Array) => void) => {
    const b = good.slice();
    f(b);
    return b;
  };
  const damaged: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["another format", edit((b) => (b[0] = 2))],
    ["cut short", good.subarray(0, good.length - 1)],
    ["a byte too many", new Uint8Array([...good, 0])],
    ["header longer than the frame", edit((b) => new DataView(b.buffer).setUint32(1, 1e6))],
    ["header not JSON", edit((b) => (b[5] = 0x7b + 1))],
    ["entry data not UTF-8", edit((b) => (b[blobsAt + 3] = 0xff))],
  ];
  for (const [what, bytes] of damaged) assert.equal(decodeFrame(bytes), null, what);
  // The blob count is bounded: at the limit a frame decodes, one more is refused unread.
  const blobs = (n: number) => `{"ms":[${heartbeat}],"b":[${Array(n).fill(0).join(",")}]}`;
  assert.ok(decodeFrame(frameWithHeader(new Uint8Array(5), blobs(maxBlobsPerFrame))));
  assert.equal(decodeFrame(frameWithHeader(new Uint8Array(5), blobs(maxBlobsPerFrame + 1))), null);
  // A header pointing at a blob that is not there leaves a number where text belongs.
  const text = new TextDecoder().decode(good.subarray(5, blobsAt)).replace('"data":1', '"data":7');
  const wrongIndex = frameWithHeader(good, text);
  assert.ok(text.includes('"data":7'));
  assert.equal(decodeFrame(wrongIndex), null, "a blob index out of range");
  // Two entries pointing at one blob: refused, not decoded twice (many could point at a big one).
  const reused = frameWithHeader(
    good,
    text.replace('"data":7', '"data":0').replace('"data":1', '"data":0'),
  );
  assert.equal(decodeFrame(reused), null, "a blob used twice");
  assert.ok(decodeFrame(frameWithHeader(good, text.replace('"data":7', '"data":1'))), "control");
});

/** `frame` (binary) with its JSON header replaced by `header`, its blobs kept. */
function frameWithHeader(frame: Uint8Array, header: string): Uint8Array {
  const blobsAt = 5 + new DataView(frame.buffer).getUint32(1);
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(5 + head.length + frame.length - blobsAt);
  out[0] = 1;
  new DataView(out.buffer).setUint32(1, head.length);
  out.set(head, 5);
  out.set(frame.subarray(blobsAt), 5 + head.length);
  return out;
}
