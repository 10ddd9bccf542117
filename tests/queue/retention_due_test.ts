// Retention by queue: when finished jobs fall past it, read again only for the queues that changed.

import assert from "node:assert/strict";
import { RetentionDue } from "../../src/queue/retention_due.ts";
import { withHarness, withTwoHarnesses } from "../helpers/queue_harness.ts";

Deno.test("retention: only the queues whose finished jobs changed are read again", () => {
  const earliest = new Map<string, number>([["a", 10], ["b", 20], ["c", 30]]);
  let changed = new Set<string>();
  const reads: string[] = [];
  const due = new RetentionDue(
    { takeFinishedChanges: () => [changed, changed = new Set()][0] },
    (queue) => {
      reads.push(queue);
      return earliest.get(queue) ?? null;
    },
    () => {
      reads.push("all");
      return [...earliest].map(([queue, t]) => ({ queue, t }));
    },
  );
  const retention = (queue: string) => (queue === "c" ? 1 : 100);
  assert.equal(due.nextMs(retention), 31, "c: 30 + 1");
  assert.deepEqual(reads.splice(0), ["all"], "all of them, the first time");
  assert.equal(due.nextMs(retention), 31);
  assert.deepEqual(reads, [], "nothing changed: nothing read");
  earliest.delete("c");
  changed.add("c");
  assert.equal(due.nextMs(retention), 110);
  assert.deepEqual(reads.splice(0), ["c"]);
  assert.deepEqual(due.dueQueues(121, retention), ["a", "b"]);
  assert.deepEqual(due.dueQueues(120, retention), ["a"], "finished before now less retention");
  due.forget();
  due.nextMs(retention);
  assert.deepEqual(reads.splice(0), ["all"], "after forget, all again");
});

Deno.test("retention: each queue's own, or the node's; a tick purges what is past it", () =>
  withHarness((h) => {
    h.apply(1, { type: "configure", queue: "short", config: { retentionMs: 1_000 } });
    for (const queue of ["short", "long", "idle"]) {
      const [job] = h.enqueue(10, queue, { payload: queue });
      if (queue === "idle") continue;
      const [c] = h.claim(20, queue);
      assert.equal(h.apply(30, { type: "ack", id: c.id, lease: c.lease }).type, "acked");
      assert.equal(c.id, job.id);
    }
    assert.equal(h.sm.nextDueMs(60_000), 30 + 1_000, "short's, not the node's 60 s");
    const early = h.apply(1_030, { type: "tick", retentionMs: 60_000 });
    const none = { type: "ticked", expired: 0, purged: 0, more: false };
    assert.deepEqual(early, none, "not yet: strictly before");
    const tick = h.apply(1_031, { type: "tick", retentionMs: 60_000 });
    assert.deepEqual(tick, { ...none, purged: 1 });
    assert.equal(h.sm.queueView("short").done, 0);
    assert.equal(h.sm.nextDueMs(60_000), 30 + 60_000, "long's, by the node's retention");
    h.apply(60_031, { type: "tick", retentionMs: 60_000 });
    assert.equal(h.sm.queueView("long").done, 0);
    assert.equal(h.sm.nextDueMs(60_000), null, "idle's job is ready: nothing will fall due");
  }));

Deno.test("retention: a queue whose last job is purged leaves nothing of it in memory", () =>
  withHarness((h) => {
    for (let q = 0; q < 200; q++) {
      const queue = `order-${q}`;
      h.enqueue(10, queue, { payload: q });
      const [c] = h.claim(20, queue);
      assert.equal(h.apply(30, { type: "ack", id: c.id, lease: c.lease }).type, "acked");
    }
    assert.equal(h.sm.countedQueues, 200, "each holds its done job");
    h.apply(100_000, { type: "tick", retentionMs: 60_000 });
    assert.equal(h.sm.countedQueues, 0);
    assert.deepEqual(h.sm.queueStats(), []);
    assert.equal(h.sm.queueView("order-7").done, 0, "an unknown queue answers zeros");
    h.restart();
    assert.equal(h.sm.countedQueues, 0, "nor after a restart");
  }));

Deno.test("retention: a replica that reloaded purges what one that did not purges", () =>
  withTwoHarnesses((a, b) => {
    for (const h of [a, b]) {
      const [job] = h.claim((h.enqueue(0, "q", {}), 10), "q");
      h.apply(20, { type: "ack", id: job.id, lease: job.lease });
      h.sm.nextDueMs(1_000); // (each has read retention once)
    }
    b.sm.reload(); // as after an installed snapshot: b reads all of it again at its next look
    // One apply: a job finishes in a queue that holds no finished job yet, then a tick past it.
    const outcomes = [a, b].map((h) => {
      const job = { payload: "1", delayMs: 0, priority: 0, maxAttempts: 1 };
      const enqueue = h.entry(100, { type: "enqueue", queue: "r", jobs: [job] });
      const claim = h.entry(110, { type: "claim", queue: "r", worker: "w", max: 1 });
      const ack = h.entry(120, {
        type: "ack",
        id: `${enqueue.index}-0`,
        lease: String(claim.index),
      });
      const tick = h.entry(5_000, { type: "tick", retentionMs: 1_000 });
      return h.sm.applyEntries([enqueue, claim, ack, tick]).get(tick.index);
    });
    assert.deepEqual(outcomes[0], { type: "ticked", expired: 0, purged: 2, more: false });
    assert.deepEqual(outcomes[1], outcomes[0], "both purged both queues' finished jobs");
  }));
