// Peer frames on a link: a turn's forwarded writes and answers leave in one socket write (cork,
// uncork); a received frame's own buffer is let go once decoded.

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { decodeFrame, encodeFrame, type Frame } from "../../src/transport/frames.ts";
import { type PeerSocket, WsTransport } from "../../src/transport/transport.ts";
import type { Message } from "../../src/raft/mod.ts";

/** A peer's WebSocket as ws's server side has it: the frames sent, and its socket's corks. */
class FakeSocket implements PeerSocket {
  readonly readyState = 1;
  readonly bufferedAmount = 0;
  readonly sent: { frame: Frame; corked: boolean }[] = [];
  readonly #listeners = new Map<string, ((ev: { data: unknown }) => void)[]>();
  corks = 0;
  uncorks = 0;
  readonly _socket = {
    cork: () => this.corks++,
    uncork: () => this.uncorks++,
  };

  send(data: string | Uint8Array): void {
    this.sent.push({ frame: decodeFrame(data)!, corked: this.corks > this.uncorks });
  }
  close(): void {
    for (const fn of this.#listeners.get("close") ?? []) fn({ data: null });
  }
  addEventListener(type: string, fn: (ev: { data: unknown }) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), fn]);
  }
  /** A frame from the peer (`data`: as the socket gives it). */
  receive(frame: Frame, data: unknown = encodeFrame(frame)): void {
    for (const fn of this.#listeners.get("message") ?? []) fn({ data });
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function transport(
  onProposal: (cmd: string) => Promise<Record<string, unknown>>,
  onMessage: (m: Message) => void = () => {},
) {
  return new WsTransport({
    selfId: "n1",
    secret: "s".repeat(32),
    clusterId: () => "c",
    adoptClusterId: () => false,
    peers: () => [],
    onMessage,
    onProposal,
    log: () => {},
  });
}

Deno.test("transport: a turn's forwarded writes go in one held write, in order", async () => {
  const t = transport(() => new Promise(() => {}));
  const ws = new FakeSocket();
  t.accept(ws, "n2");
  const answers = ["a", "b", "c"].map((cmd) => t.forwardProposal("n2", cmd, 60_000));
  const props = ws.sent.filter((s) => s.frame.t === "prop");
  assert.deepEqual(props.map((s) => s.frame.t === "prop" && s.frame.cmd), ["a", "b", "c"]);
  assert.ok(props.every((s) => s.corked), "held");
  assert.deepEqual([ws.corks, ws.uncorks], [1, 0], "one hold for the turn");
  await turn();
  assert.deepEqual([ws.corks, ws.uncorks], [1, 1], "let go at the end of the turn");
  t.forwardProposal("n2", "d", 60_000).catch(() => {});
  assert.equal(ws.corks, 2, "the next turn holds again");
  t.stop();
  for (const a of answers) await a.catch(() => {}); // (the stop ends them)
});

Deno.test("transport: a leader's answers of one turn leave in one held write", async () => {
  const results: ((r: Record<string, unknown>) => void)[] = [];
  const t = transport(() => new Promise((resolve) => results.push(resolve)));
  const ws = new FakeSocket();
  t.accept(ws, "n2");
  for (const id of [1, 2]) ws.receive({ t: "prop", id, cmd: "x" });
  await turn();
  assert.equal(results.length, 2);
  for (const resolve of results) resolve({ type: "acked", id: "1-0" });
  await turn(); // (the answers are sent after it was scheduled: the next one lets them go)
  await turn();
  const answers = ws.sent.filter((s) => s.frame.t === "propResult");
  assert.deepEqual(answers.map((s) => s.frame.t === "propResult" && s.frame.id), [1, 2]);
  assert.ok(answers.every((s) => s.corked));
  assert.deepEqual([ws.corks, ws.uncorks], [1, 1]);
  t.stop();
});

Deno.test("transport: answers leave on the link held for sending; a proposal takes one from any link", async () => {
  const results: ((r: Record<string, unknown>) => void)[] = [];
  const leader = transport(() => new Promise((resolve) => results.push(resolve)));
  const [held, other] = [new FakeSocket(), new FakeSocket()];
  leader.accept(held, "n2");
  leader.accept(other, "n2");
  other.receive({ t: "prop", id: 1, cmd: "x" });
  await turn();
  results[0]({ type: "acked", id: "1-0" });
  await turn();
  await turn();
  const answersOn = (ws: FakeSocket) => ws.sent.filter((s) => s.frame.t === "propResult").length;
  assert.deepEqual(
    [answersOn(held), answersOn(other)],
    [1, 0],
    "the preferred link, not the asking one",
  );
  leader.stop();
  // The follower's side: its proposal went out on one link, the answer comes on the other.
  const follower = transport(() => new Promise(() => {}));
  const [out, back] = [new FakeSocket(), new FakeSocket()];
  follower.accept(out, "n2");
  follower.accept(back, "n2");
  const answer = follower.forwardProposal("n2", "y", 60_000);
  const prop = out.sent.find((s) => s.frame.t === "prop")!.frame as { id: number };
  back.receive({ t: "propResult", id: prop.id, result: { type: "acked", id: "2-0" } });
  assert.deepEqual(await answer, { type: "acked", id: "2-0" });
  // The close of the link an answer would come on ends a proposal at once, as unknown.
  const cut = follower.forwardProposal("n2", "z", 60_000);
  back.close();
  await assert.rejects(cut, (err: { error?: { code?: string } }) => {
    assert.equal(err.error?.code, "outcome_unknown");
    return true;
  });
  follower.stop();
});

Deno.test("transport: a frame's own buffer is let go once decoded; a shared one is not", () => {
  const got: Message[] = [];
  const t = transport(() => new Promise(() => {}), (m) => got.push(m));
  const ws = new FakeSocket();
  t.accept(ws, "n2");
  const heartbeat = { type: "heartbeat", term: 2, from: "n2", to: "n1", commit: 1, readSeq: 0 };
  const frame: Frame = { t: "raft", ms: [heartbeat as unknown as Message] };
  const wire = encodeFrame(frame) as Uint8Array;
  const own = wire.slice().buffer; // (as Deno's WebSocket gives a message: an ArrayBuffer)
  ws.receive(frame, own);
  assert.equal(own.detached, true, "let go");
  const view = new Uint8Array(wire.length + 10);
  view.set(wire);
  ws.receive(frame, view.subarray(0, wire.length)); // (as ws may: a view of its read buffer)
  assert.equal(view.buffer.detached, false, "left alone");
  assert.deepEqual(got, [heartbeat, heartbeat], "both decoded");
  t.stop();
});

Deno.test("transport: a snapshot chunk's buffer is let go once its frame is made", () => {
  const t = transport(() => new Promise(() => {}));
  const ws = new FakeSocket();
  t.accept(ws, "n2");
  const chunk = new Uint8Array(70_000).map((_, i) => i & 0xff);
  const membership = { members: [{ id: "n1", url: "http://a", voter: true }] };
  const meta = { index: 7, term: 2, membership };
  const m = {
    type: "snapshot",
    term: 2,
    from: "n1",
    to: "n2",
    meta,
    offset: 0,
    chunk,
    done: false,
  };
  t.send([m as unknown as Message]);
  assert.equal(chunk.buffer.detached, true, "let go");
  const sent = ws.sent.at(-1)!.frame;
  assert.ok(sent.t === "raft" && sent.ms[0].type === "snapshot");
  assert.equal(sent.ms[0].chunk.length, 70_000, "the frame carried a copy");
  assert.equal(sent.ms[0].chunk[69_999], 69_999 & 0xff);
  t.stop();
});

Deno.test("transport: a large frame's buffer is let go once ws has written it, not before", () => {
  const t = transport(() => new Promise(() => {}));
  const written: (() => void)[] = [];
  const sent: Uint8Array<ArrayBuffer>[] = [];
  const ws = new FakeSocket();
  // (ws's server side calls back once the socket took the bytes)
  ws.send = (data: string | Uint8Array, cb?: () => void) => {
    sent.push(data as Uint8Array<ArrayBuffer>);
    if (cb) written.push(cb);
  };
  t.accept(ws, "n2");
  sent.length = 0; // (what the link sends of its own accord)
  written.length = 0;
  const entry = (data: string) => ({ index: 5, term: 2, kind: "normal", data });
  const append = (data: string) =>
    ({
      type: "append",
      term: 2,
      from: "n1",
      to: "n2",
      prevIndex: 4,
      prevTerm: 2,
      entries: [entry(data)],
      commit: 4,
    }) as unknown as Message;
  t.send([append("x".repeat(100_000))]);
  t.send([append("small")]);
  assert.equal(sent.length, 2);
  assert.equal(written.length, 1, "only the large frame waits to be let go");
  assert.equal(sent[0].buffer.detached, false, "kept while ws may still write it");
  const frame = decodeFrame(sent[0]);
  assert.ok(frame?.t === "raft" && frame.ms[0].type === "append");
  written[0]();
  assert.equal(sent[0].buffer.detached, true, "let go once written");
  t.stop();
});
