// Commit-only appends held for an append with entries to carry their commit instead.

import assert from "node:assert/strict";
import type { Message } from "../../src/raft/mod.ts";
import { CommitHold, commitHoldMs } from "../../src/node/commit_hold.ts";

function append(to: string, commit: number, entries = 0): Message {
  const e = Array.from({ length: entries }, (_, k) => ({
    index: 10 + k,
    term: 2,
    kind: "normal" as const,
    data: "x",
  }));
  const m = {
    type: "append",
    term: 2,
    from: "a",
    to,
    prevIndex: 9,
    prevTerm: 2,
    entries: e,
    commit,
  };
  return m as unknown as Message;
}

/** A hold over a recording sender and a clock moved by hand. */
function rig() {
  const sent: Message[][] = [];
  const timers: { at: number; fn: () => void }[] = [];
  let now = 0;
  const hold = new CommitHold(
    { send: (ms) => void sent.push([...ms]) },
    { soon: (fn) => fn(), after: (ms, fn) => void timers.push({ at: now + ms, fn }) },
  );
  const advance = (ms: number) => {
    now += ms;
    const due = timers.filter((t) => t.at <= now);
    timers.splice(0, timers.length, ...timers.filter((t) => t.at > now));
    for (const t of due) t.fn();
  };
  return { hold, sent, advance };
}

Deno.test("commit hold: an append with entries to the same peer carries the commit instead", () => {
  const { hold, sent, advance } = rig();
  hold.send([append("b", 5), append("c", 5)]);
  assert.equal(sent.length, 0, "both commit-only appends held");
  hold.send([append("b", 6, 1)]);
  advance(commitHoldMs);
  assert.deepEqual(sent.map((ms) => ms.map((m) => `${m.to}:${m.type}`)), [
    ["b:append"], // the entries, with commit 6
    ["c:append"], // c got no entries: its commit-only append leaves when the hold ends
  ]);
  assert.equal((sent[0][0] as { entries: unknown[] }).entries.length, 1);
});

Deno.test("commit hold: other messages pass at once; the hold ends; a stop drops what is held", () => {
  const { hold, sent, advance } = rig();
  const heartbeat = { type: "heartbeat", term: 2, from: "a", to: "b", commit: 4, readSeq: 1 };
  hold.send([append("b", 5), heartbeat as unknown as Message]);
  assert.deepEqual(sent.map((ms) => ms.map((m) => m.type)), [["heartbeat"]]);
  advance(commitHoldMs - 1);
  assert.equal(sent.length, 1, "still held");
  advance(1);
  assert.deepEqual(sent.map((ms) => ms.map((m) => m.type)), [["heartbeat"], ["append"]]);
  hold.send([append("b", 7)]);
  hold.stop();
  advance(commitHoldMs);
  assert.equal(sent.length, 2, "dropped at the stop");
});
