// The Ready loop on a follower: the order of its write, flush, acknowledgement and apply.

import assert from "node:assert/strict";
import { ReadyLoop } from "../../src/node/loop.ts";
import type { AppliedState, LogStore } from "../../src/node/ports.ts";
import {
  bootstrapInit,
  type Entry,
  makeRaftConfig,
  type Message,
  Raft,
  type RaftConfig,
} from "../../src/raft/mod.ts";

/**
 * A follower "b" of a three-node cluster whose ports write down what happens, in order. Each
 * entry is 33 bytes as the core counts them.
 */
function follower(config: Partial<RaftConfig> = {}) {
  const events: string[] = [];
  let flushDone: (() => void) | null = null;
  const soon: (() => void)[] = [];
  const store = {
    write(rd, alongside) {
      events.push(`write ${rd.entries.map((e) => e.index).join(",")}`);
      alongside();
    },
    flush(done) {
      events.push("flush");
      flushDone = done;
    },
  } as Partial<LogStore> as LogStore;
  let appliedIndex = 3;
  const sm: AppliedState<null> = {
    get appliedIndex() {
      return appliedIndex;
    },
    applyEntries(entries) {
      if (entries.length === 0) return new Map();
      events.push(`apply ${entries.map((e) => e.index).join(",")}`);
      appliedIndex = entries[entries.length - 1].index;
      return new Map();
    },
    reload() {},
  };
  const init = bootstrapInit(["a", "b", "c"].map((id) => ({ id, url: `ws://${id}` })));
  const raft = new Raft(makeRaftConfig({ id: "b", randomInt: () => 0, ...config }), {
    ...init,
    appliedIndex: 3,
  });
  const loop = new ReadyLoop(raft, {
    store,
    sm,
    peers: {
      send: (ms: readonly Message[]) => {
        for (const m of ms) if (m.type === "appendResp") events.push(`ack ${m.index}`);
      },
    },
    scheduler: { soon: (fn) => soon.push(fn), after: (_ms, fn) => soon.push(fn) },
    monoMs: () => 0,
  }, {
    feed: () => {},
    applied: () => {},
    readied: () => {},
    fatal: (error) => {
      throw error;
    },
  }, { everyEntries: 1_000_000, aboveBytes: 1e12 });
  const entry = (index: number): Entry => ({ index, term: 2, kind: "normal", data: "x" });
  /** Runs the loop's turns waiting to run, `turns` of them at most. */
  const run = (turns = Infinity) => {
    for (let k = 0; k < turns && soon.length > 0; k++) soon.shift()!();
  };
  return {
    events,
    run,
    /**
     * The leader's append of entry `index` (none when `withEntry` is false: a commit update),
     * carrying `commit`; the loop's turns follow (`turns` of them at most).
     */
    append(index: number, commit: number, withEntry = true, turns = Infinity) {
      raft.step({
        type: "append",
        term: 2,
        from: "a",
        to: "b",
        prevIndex: withEntry ? index - 1 : index,
        prevTerm: (withEntry ? index - 1 : index) <= 3 ? 1 : 2,
        entries: withEntry ? [entry(index)] : [],
        commit,
      });
      loop.schedule();
      run(turns);
    },
    flushing: () => flushDone !== null,
    finishFlush() {
      const done = flushDone!;
      flushDone = null;
      done();
      run();
    },
  };
}

Deno.test("loop: a follower starts its flush before it applies what an append commits", () => {
  const f = follower();
  f.append(4, 3);
  f.finishFlush();
  f.append(5, 4); // entry 4 is committed now
  assert.deepEqual(f.events, ["write 4", "flush", "ack 4", "write 5", "flush", "apply 4"]);
  assert.ok(f.flushing(), "the apply did not wait for the flush");
  f.finishFlush();
  assert.deepEqual(f.events.slice(6), ["ack 5"]);
});

Deno.test("loop: a commit update with no entries applies in its write, with no flush", () => {
  const f = follower();
  f.append(4, 3);
  f.finishFlush();
  f.append(4, 4, false);
  assert.deepEqual(f.events.slice(3), ["write ", "apply 4", "ack 4"]);
  assert.ok(!f.flushing());
});

Deno.test("loop: a turn applies about a Ready's bytes of committed entries, later turns the rest", () => {
  const f = follower({ maxCommittedBytesPerReady: 70 }); // two 33-byte entries a Ready
  for (let index = 4; index <= 9; index++) {
    f.append(index, 3);
    f.finishFlush();
  }
  const applies = () => f.events.filter((e) => e.startsWith("apply"));
  f.append(9, 9, false, 1);
  assert.deepEqual(applies(), ["apply 4,5", "apply 6,7"], "132 bytes: the turn ends there");
  f.run(1);
  assert.deepEqual(applies(), ["apply 4,5", "apply 6,7", "apply 8,9"]);
  assert.ok(f.events.includes("ack 9"));
});
