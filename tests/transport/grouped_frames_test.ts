// Forwarded writes and their answers of one loop turn leave in one socket write (cork, uncork).

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { decodeFrame, encodeFrame, type Frame } from "../../src/transport/frames.ts";
import { type PeerSocket, WsTransport } from "../../src/transport/transport.ts";

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
  /** A frame from the peer. */
  receive(frame: Frame): void {
    for (const fn of this.#listeners.get("message") ?? []) fn({ data: encodeFrame(frame) });
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function transport(onProposal: (cmd: string) => Promise<Record<string, unknown>>) {
  return new WsTransport({
    selfId: "n1",
    secret: "s".repeat(32),
    clusterId: () => "c",
    adoptClusterId: () => false,
    peers: () => [],
    onMessage: () => {},
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
