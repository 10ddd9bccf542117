// The event stream's store: every transition once, in log order, resumable, trimmed and said so.

import assert from "node:assert/strict";
import { EventLog, type EventPosition, type JobEvent } from "../../src/queue/events.ts";
import { idOfSeq, jobSeq } from "../../src/queue/job_ids.ts";
import { openDataDir } from "../../src/storage/data_dir.ts";
import { type Harness, withHarness } from "../helpers/queue_harness.ts";
import { Prng } from "../sim/prng.ts";

/** Every event of `queue` after `from`, read a few at a time as a stream would. */
function readAll(h: Harness, queue: string, from: EventPosition = { index: 0, k: -1 }) {
  const events: JobEvent[] = [];
  let at = from;
  for (;;) {
    const r = h.sm.readEvents(queue, at, 3);
    events.push(...r.events);
    if (r.events.length === 0) return { events, next: at };
    at = r.next;
  }
}

const brief = (e: JobEvent) => `${e.type} ${e.jobId} ${e.state} ${e.attempt}`;

Deno.test("events: every transition of a job, once, in log order", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", { payload: 1, group: "g" }, { payload: 2, delayMs: 500 });
    h.enqueue(1000, "other", { payload: 3 });
    let [job] = h.claim(1001, "q", 1, 1_000);
    h.apply(1002, { type: "progress", id: job.id, lease: job.lease, progress: "50" });
    h.apply(1003, { type: "nack", id: job.id, lease: job.lease, error: "boom", retryDelayMs: 0 });
    [job] = h.claim(1004, "q");
    h.apply(1005, { type: "release", id: job.id, lease: job.lease });
    h.apply(1600, { type: "tick", retentionMs: 1e9 }); // 1-1 becomes ready
    const two = h.claim(1601, "q", 2, 1_000);
    const one = two.find((j) => j.id === "1-0")!;
    h.apply(1602, { type: "ack", id: one.id, lease: one.lease, result: "true" });
    h.apply(5000, { type: "tick", retentionMs: 1e9 }); // 1-1's lease expired: ready again
    h.apply(5001, { type: "cancel", id: "1-1" });
    const { events } = readAll(h, "q");
    assert.deepEqual(events.map(brief), [
      "enqueued 1-0 ready 0",
      "enqueued 1-1 delayed 0",
      "claimed 1-0 leased 1",
      "progress 1-0 leased 1",
      "nacked 1-0 ready 1",
      "claimed 1-0 leased 2",
      "released 1-0 ready 1",
      "promoted 1-1 ready 0",
      "claimed 1-0 leased 2",
      "claimed 1-1 leased 1",
      "acked 1-0 done 2",
      "nacked 1-1 ready 1",
      "cancelled 1-1 cancelled 1",
    ]);
    assert.equal(events[0].group, "g");
    assert.equal(events[4].error, "boom");
    assert.equal(events[11].error, "lease expired");
    assert.deepEqual(events.slice(0, 3).map((e) => e.id), ["1:0", "1:1", "3:0"]);
    assert.ok(events.every((e, i) => i === 0 || e.index >= events[i - 1].index), "log order");
    assert.deepEqual(readAll(h, "other").events.map(brief), ["enqueued 2-0 ready 0"]);
  }));

Deno.test("events: a reader resumes after any event without a gap or a repeat", () =>
  withHarness((h) => {
    for (let i = 0; i < 5; i++) h.enqueue(i, "q", ...[0, 1, 2].map((n) => ({ payload: n })));
    const all = readAll(h, "q").events.map((e) => e.id);
    assert.equal(all.length, 15);
    for (let cut = 0; cut < all.length; cut++) {
      const [index, k] = all[cut].split(":").map(Number);
      const rest = readAll(h, "q", { index, k }).events.map((e) => e.id);
      assert.deepEqual(rest, all.slice(cut + 1), `after ${all[cut]}`);
    }
    const live = readAll(h, "q", { index: h.sm.appliedIndex, k: Infinity });
    assert.deepEqual(live.events, [], "from now: nothing yet");
    h.enqueue(9, "q", { payload: 9 });
    assert.deepEqual(readAll(h, "q", live.next).events.map((e) => e.id), ["6:0"]);
  }));

Deno.test("events: past the retention the oldest go, and a reader from before is told", () =>
  withHarness(
    (h) => {
      for (let i = 0; i < 10; i++) h.enqueue(i, "q", ...[0, 1, 2, 3].map((n) => ({ payload: n })));
      h.enqueue(10, "quiet", { payload: 0 });
      const kept = readAll(h, "q").events;
      assert.ok(kept.length <= 12 && kept.length >= 8, `${kept.length} kept`);
      const from = h.sm.readEvents("q", { index: 0, k: -1 }, 100);
      assert.ok(from.lost, "the reader learns that events are gone");
      assert.equal(from.events[0].id, kept[0].id, "then gets the oldest kept");
      const fresh = h.sm.readEvents("q", { index: from.lost!.trimmedThrough, k: Infinity }, 100);
      assert.equal(fresh.lost, undefined, "a reader at the trim point lost nothing");
      const quiet = h.sm.readEvents("quiet", { index: 0, k: -1 }, 100);
      assert.equal(quiet.lost, undefined, "a queue none of whose events were trimmed");
      assert.equal(quiet.events.length, 1);
    },
    { eventsRetained: 10 },
  ));

Deno.test("events: the page query is served by the events_queue index", () =>
  withHarness((h) => {
    const plans = h.sm.queryPlans();
    assert.match(plans["events.page"], /events_queue/);
    assert.ok(!/TEMP B-TREE/.test(plans["events.page"]), plans["events.page"]);
  }));

Deno.test("events: runs of one transition are one stored tuple, read back one by one", async () => {
  const dd = await openDataDir(await Deno.makeTempDir({ prefix: "raftq-events-" }));
  try {
    const log = new EventLog(dd.db);
    const recorded: Omit<JobEvent, "id" | "index" | "queue" | "at">[][] = [];
    const rng = new Prng(7);
    for (let index = 1; index <= 40; index++) {
      log.begin();
      const entry: (typeof recorded)[number] = [];
      let seq = jobSeq(index, 0);
      for (let n = rng.int(30); n > 0; n--) {
        seq = rng.chance(0.8) ? seq + 1 : jobSeq(1 + rng.int(index), rng.int(50));
        const type = rng.chance(0.8) ? "enqueued" : "claimed";
        const attempt = rng.chance(0.8) ? 0 : 1;
        const group = rng.chance(0.8) ? "" : "g";
        const error = rng.chance(0.1) ? "boom" : undefined;
        const state = type === "enqueued" ? "ready" : "leased";
        log.record("q", type, { id: idOfSeq(seq), grp: group, attempts: attempt }, state, error);
        entry.push({
          type,
          jobId: idOfSeq(seq),
          state,
          attempt,
          ...(group ? { group } : {}),
          ...(error ? { error } : {}),
        });
      }
      log.flush(index, 1000 + index);
      recorded.push(entry);
    }
    const expected = recorded.flatMap((entry, i) =>
      entry.map((e, k) => ({ ...e, id: `${i + 1}:${k}`, index: i + 1, queue: "q", at: 1001 + i }))
    );
    assert.ok(expected.length > 300, "the log did real work");
    const read = (from: EventPosition) => {
      const out: JobEvent[] = [];
      for (let at = from;;) {
        const r = log.read("q", at, 7);
        if (r.events.length === 0) return out;
        out.push(...r.events);
        at = r.next;
      }
    };
    assert.deepEqual(read({ index: 0, k: -1 }), expected);
    for (const i of [5, 100, 250, expected.length - 1]) {
      const e = expected[i];
      const [index, k] = e.id.split(":").map(Number);
      assert.deepEqual(read({ index, k }), expected.slice(i + 1), `after ${e.id}`);
    }
    // A batch's 1,000 enqueues: one tuple, 1,000 events.
    log.begin();
    for (let k = 0; k < 1000; k++) {
      log.record("q", "enqueued", { id: idOfSeq(jobSeq(41, k)), grp: "", attempts: 0 }, "ready");
    }
    log.flush(41, 2000);
    const row = dd.db.conn.db.prepare("SELECT n, data FROM events WHERE idx = 41").get() as {
      n: number;
      data: string;
    };
    assert.deepEqual([row.n, JSON.parse(row.data)], [1000, [[
      "enqueued",
      "41-0",
      "ready",
      0,
      "",
      1000,
    ]]]);
    const batch = read({ index: 40, k: Infinity });
    assert.deepEqual(batch.map((e) => [e.id, e.jobId]).slice(998), [["41:998", "41-998"], [
      "41:999",
      "41-999",
    ]]);
    assert.equal(batch.length, 1000);
  } finally {
    dd.close();
    await Deno.remove(dd.dir, { recursive: true });
  }
});
