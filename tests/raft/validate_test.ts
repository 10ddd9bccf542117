// Peer message validation: malformed frames are refused with a reason, never thrown.

import assert from "node:assert/strict";
import { parseMessage } from "../../src/raft/mod.ts";
import { lone } from "./harness.ts";

const goodAppend = {
  type: "append",
  term: 2,
  from: "a",
  to: "b",
  prevIndex: 3,
  prevTerm: 1,
  entries: [{ index: 4, term: 2, kind: "normal", data: "x" }],
  commit: 3,
};

Deno.test("validate: a well-formed append passes unchanged", () => {
  const r = parseMessage(goodAppend);
  assert.ok(r.ok);
  assert.deepEqual(r.value, goodAppend);
});

Deno.test("validate: malformed messages are refused with a reason", () => {
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    ["append", /not an object/],
    [{ ...goodAppend, type: "bogus" }, /type is unknown/],
    [{ ...goodAppend, term: -1 }, /term/],
    [{ ...goodAppend, term: 1.5 }, /term/],
    [{ type: "heartbeat", term: -0, from: "a", to: "b", commit: 0, readSeq: 0 }, /term/],
    [{ type: "heartbeat", term: 1, from: "a", to: "b", commit: -0, readSeq: 0 }, /commit/],
    [{ ...goodAppend, term: "2" }, /term/],
    [{ ...goodAppend, from: "" }, /from is empty/],
    [{ ...goodAppend, to: "x".repeat(500) }, /longer/],
    [{ ...goodAppend, entries: "x" }, /not a list/],
    [{ ...goodAppend, entries: [{ ...goodAppend.entries[0], index: 9 }] }, /contiguous/],
    [{ ...goodAppend, entries: [{ ...goodAppend.entries[0], term: 7 }] }, /newer than the message/],
    [{ ...goodAppend, entries: [{ ...goodAppend.entries[0], kind: "evil" }] }, /kind/],
    [{ ...goodAppend, entries: [{ ...goodAppend.entries[0], kind: "conf" }] }, /change/],
    [{ type: "vote", term: 1, from: "a", to: "b", preVote: "yes" }, /preVote/],
    [{ type: "snapshot", term: 1, from: "a", to: "b", chunk: [1, 2] }, /chunk/],
    [{ type: "heartbeat", term: 1, from: "a", to: "b", commit: Infinity, readSeq: 0 }, /commit/],
  ];
  for (const [input, reason] of cases) {
    const r = parseMessage(input);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(input)}`);
    assert.match(!r.ok ? r.error : "", reason);
  }
});

Deno.test("validate: a message addressed to another node is dropped and counted by the core", () => {
  const r = lone("a", 2);
  r.step({ type: "heartbeat", term: 9, from: "b", to: "zz", commit: 0, readSeq: 0 });
  assert.equal(r.term, 2);
  assert.equal(r.stats.droppedMessages, 1);
});
