// The queue state machine, command by command, edge by edge, against a real SQLite file.

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/mod.ts";
import { Harness, value, withHarness } from "../helpers/queue_harness.ts";
import { encodeCommand, type NewJob, type QueueCommand } from "../../src/queue/commands.ts";
import { QueueStateMachine } from "../../src/queue/state_machine.ts";
import { StorageFatalError } from "../../src/storage/errors.ts";
import superjson from "superjson";
import { copyStateThroughImage } from "../helpers/image.ts";
import { retryDelayMs } from "../../src/queue/backoff.ts";
import { crc32Text } from "../../src/storage/checksum.ts";
import { maxPageBytes } from "../../src/queue/job_listing.ts";
import { maxSchedules } from "../../src/queue/schedules.ts";

Deno.test("queue: enqueue makes a ready job; its view and the queue counts show it", () =>
  withHarness((h) => {
    const [job] = h.enqueue(1000, "emails", { payload: { to: "a@b" }, priority: 3 });
    assert.deepEqual(job, { id: "1-0", state: "ready", deduplicated: false });
    const view = h.sm.getJob("1-0")!;
    assert.equal(view.payload.text, '{"to":"a@b"}');
    assert.equal(view.state, "ready");
    assert.equal(view.priority, 3);
    assert.equal(view.maxAttempts, 5);
    assert.equal(view.createdAt, 1000);
    assert.deepEqual(h.sm.queueStats(), [
      {
        name: "emails",
        paused: false,
        ready: 1,
        delayed: 0,
        leased: 0,
        done: 0,
        dead: 0,
        cancelled: 0,
        expired: 0,
        waiting: 0,
      },
    ]);
  }));

Deno.test("queue: claims take higher priority first, then the oldest ready job", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", { payload: "low-old", priority: 1 });
    h.enqueue(1001, "q", { payload: "high", priority: 9 });
    h.enqueue(1002, "q", { payload: "low-new", priority: 1 });
    h.enqueue(1003, "other", { payload: "elsewhere", priority: 9 });
    const order = [1, 2, 3].map((i) => value(h.claim(2000 + i, "q")[0]?.payload));
    assert.deepEqual(order, ["high", "low-old", "low-new"]);
    assert.deepEqual(h.claim(3000, "q"), []);
  }));

Deno.test("queue: a claim of max N takes up to N jobs under one lease", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", {}, {}, {});
    const jobs = h.claim(1001, "q", 2);
    assert.equal(jobs.length, 2);
    assert.equal(jobs[0].lease, jobs[1].lease);
    assert.equal(jobs[0].attempt, 1);
    assert.equal(jobs[0].leaseExpiresAt, 1001 + 30_000);
  }));

Deno.test("queue: a delayed job becomes claimable once the leader's clock passes its time", () =>
  withHarness((h) => {
    const [job] = h.enqueue(1000, "q", { delayMs: 5000 });
    assert.equal(job.state, "delayed");
    assert.deepEqual(h.claim(5999, "q"), []);
    const got = h.claim(6000, "q");
    assert.equal(got[0]?.id, job.id);
  }));

Deno.test("queue: time never goes back: an older stamp changes nothing about due jobs", () =>
  withHarness((h) => {
    h.enqueue(10_000, "q", { delayMs: 100 });
    assert.deepEqual(h.claim(5_000, "q"), [], "a stamp behind the clock does not move it");
    assert.equal(h.sm.nowMs, 10_000);
    assert.equal(h.claim(10_100, "q").length, 1);
  }));

Deno.test("queue: ack with the current lease completes the job; a retried ack answers the same", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", {});
    const [job] = h.claim(1001, "q");
    const r = h.apply(1002, { type: "ack", id: job.id, lease: job.lease, result: '{"ok":1}' });
    assert.deepEqual(r, { type: "acked", id: job.id });
    const again = h.apply(1003, { type: "ack", id: job.id, lease: job.lease });
    assert.deepEqual(again, { type: "acked", id: job.id });
    const view = h.sm.getJob(job.id)!;
    assert.equal(view.state, "done");
    assert.equal(view.result?.text, '{"ok":1}', "the second ack did not overwrite the result");
  }));

Deno.test("queue: an ack's next claim leases in the ack's entry, only when the ack succeeds", () =>
  withHarness((h) => {
    const [a, b, c] = h.enqueue(1000, "q", { payload: "a" }, { payload: "b" }, { payload: "c" });
    const [job] = h.claim(1001, "q");
    const next = { queue: "q", worker: "w2", max: 1, leaseMs: 5_000 };
    const stale = h.apply(1002, { type: "ack", id: job.id, lease: "99", next });
    assert.equal(stale.type === "error" && stale.code, "lease_mismatch");
    assert.equal(h.sm.queueView("q").leased, 1, "a refused ack claimed nothing");
    const r = h.apply(1003, { type: "ack", id: job.id, lease: job.lease, next });
    assert.equal(r.type, "acked");
    const taken = r.type === "acked" ? r.next! : [];
    assert.deepEqual(taken.map((j) => [j.id, j.lease, j.leaseExpiresAt]), [
      [b.id, String(h.index), 1003 + 5_000],
    ]);
    assert.deepEqual([a.id, b.id, c.id].map((id) => h.sm.getJob(id)!.state), [
      "done",
      "leased",
      "ready",
    ]);
    h.apply(1004, { type: "pause", queue: "q", paused: true });
    const paused = h.apply(1005, { type: "ack", id: b.id, lease: taken[0].lease, next });
    assert.deepEqual(paused, { type: "acked", id: b.id, next: [] }, "paused: acked, none taken");
  }));

Deno.test("queue: leases fence: after expiry and a new claim, the old lease changes nothing", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", {});
    const [first] = h.claim(1000, "q", 1, 5000);
    // The lease expires (by the leader's clock); the job is ready again, attempt counted.
    const [second] = h.claim(7000, "q", 1, 5000);
    assert.equal(second.id, first.id);
    assert.equal(second.attempt, 2);
    assert.ok(Number(second.lease) > Number(first.lease), "leases strictly increase");
    for (const cmd of ["ack", "nack"] as const) {
      const r = h.apply(7001, { type: cmd, id: first.id, lease: first.lease });
      assert.equal(r.type, "error");
      assert.equal(r.type === "error" && r.code, "lease_mismatch");
    }
    const ext = h.apply(7002, { type: "extend", id: first.id, lease: first.lease, leaseMs: 1 });
    assert.equal(ext.type === "error" && ext.code, "lease_mismatch");
    assert.equal(h.sm.getJob(first.id)!.state, "leased");
    assert.deepEqual(h.apply(7003, { type: "ack", id: second.id, lease: second.lease }), {
      type: "acked",
      id: second.id,
    });
  }));

Deno.test("queue: an ack after the lease expired is refused even before anyone reclaims", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", {});
    const [job] = h.claim(1000, "q", 1, 1000);
    const r = h.apply(2000, { type: "ack", id: job.id, lease: job.lease });
    assert.equal(r.type === "error" && r.code, "lease_mismatch");
    assert.equal(h.sm.getJob(job.id)!.state, "ready");
  }));

Deno.test("queue: extend pushes the lease expiry from the leader's clock", () =>
  withHarness((h) => {
    h.enqueue(1000, "q", {});
    const [job] = h.claim(1000, "q", 1, 1000);
    const r = h.apply(1500, { type: "extend", id: job.id, lease: job.lease, leaseMs: 10_000 });
    assert.deepEqual(r, { type: "extended", id: job.id, leaseExpiresAt: 11_500 });
    assert.deepEqual(h.claim(5000, "q"), [], "still leased");
  }));

Deno.test("queue: nack retries with exponential backoff, then dead after maxAttempts", () =>
  withHarness((h) => {
    h.enqueue(0, "q", { maxAttempts: 3 });
    let now = 1000;
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [job] = h.claim(now, "q");
      assert.equal(job?.attempt, attempt, `attempt ${attempt} was claimable`);
      const r = h.apply(now, {
        type: "nack",
        id: job.id,
        lease: job.lease,
        error: `boom ${attempt}`,
      });
      if (attempt < 3) {
        assert.deepEqual(r, { type: "nacked", id: job.id, state: "delayed" });
        const view = h.sm.getJob(job.id)!;
        delays.push(view.availableAt! - now);
        now = view.availableAt!;
      } else {
        assert.deepEqual(r, { type: "nacked", id: job.id, state: "dead" });
      }
    }
    assert.ok(delays[0] >= 800 && delays[0] < 1200, `first retry ~1 s, was ${delays[0]}`);
    assert.ok(delays[1] >= 1600 && delays[1] < 2400, `second retry ~2 s, was ${delays[1]}`);
    const view = h.sm.getJob("1-0")!;
    assert.equal(view.state, "dead");
    assert.equal(view.lastError, "boom 3");
  }));

Deno.test("queue: nack with retryDelayMs 0 makes the job ready at once", () =>
  withHarness((h) => {
    h.enqueue(0, "q", {});
    const [job] = h.claim(1, "q");
    const r = h.apply(2, { type: "nack", id: job.id, lease: job.lease, retryDelayMs: 0 });
    assert.deepEqual(r, { type: "nacked", id: job.id, state: "ready" });
    assert.equal(h.claim(2, "q")[0]?.attempt, 2);
  }));

Deno.test("queue: a lease expiring on the last attempt makes the job dead", () =>
  withHarness((h) => {
    h.enqueue(0, "q", { maxAttempts: 1 });
    h.claim(0, "q", 1, 100);
    h.apply(200, { type: "tick", retentionMs: 1e9 });
    const view = h.sm.getJob("1-0")!;
    assert.equal(view.state, "dead");
    assert.equal(view.lastError, "lease expired");
  }));

Deno.test("queue: dead letters are listed newest first, paginated, and can be retried", () =>
  withHarness((h) => {
    for (let i = 0; i < 3; i++) {
      h.enqueue(i * 10, "q", { maxAttempts: 1, payload: i });
      const [job] = h.claim(i * 10 + 1, "q");
      h.apply(i * 10 + 2, { type: "nack", id: job.id, lease: job.lease });
    }
    const page1 = h.sm.deadLetters("q", 2);
    assert.deepEqual(page1.jobs.map((j) => value(j.payload)), [2, 1]);
    assert.ok(page1.next);
    const [finishedAt, id] = [Number(page1.next!.split(":")[0]), page1.next!.split(":")[1]];
    const page2 = h.sm.deadLetters("q", 2, { finishedAt, id });
    assert.deepEqual(page2.jobs.map((j) => value(j.payload)), [0]);
    assert.equal(page2.next, null);
    const r = h.apply(100, { type: "retryDead", queue: "q", id: page2.jobs[0].id });
    assert.equal(r.type, "retried");
    const again = h.claim(101, "q");
    assert.equal(value(again[0]?.payload), 0);
    assert.equal(again[0]?.attempt, 1, "attempts start over");
    const notDead = h.apply(102, { type: "retryDead", queue: "q", id: again[0].id });
    assert.equal(notDead.type === "error" && notDead.code, "conflict");
    const wrongQueue = h.apply(103, { type: "retryDead", queue: "other", id: page1.jobs[0].id });
    assert.equal(wrongQueue.type === "error" && wrongQueue.code, "not_found");
  }));

Deno.test("queue: an idempotency key returns the first job for 24 hours, then is forgotten", () =>
  withHarness((h) => {
    const [a] = h.enqueue(0, "q", { idempotencyKey: "k1" });
    const [b] = h.enqueue(1000, "q", { idempotencyKey: "k1" });
    assert.deepEqual(b, { id: a.id, state: "ready", deduplicated: true });
    const [other] = h.enqueue(1000, "other", { idempotencyKey: "k1" });
    assert.equal(other.deduplicated, false, "keys are per queue");
    const day = 24 * 60 * 60 * 1000;
    h.apply(day + 1, { type: "tick", retentionMs: 1e12 });
    const [c] = h.enqueue(day + 2, "q", { idempotencyKey: "k1" });
    assert.equal(c.deduplicated, false);
    assert.notEqual(c.id, a.id);
  }));

Deno.test("queue: a key repeated inside one batch finds the batch's first job", () =>
  withHarness((h) => {
    const out = h.enqueue(
      0,
      "q",
      { payload: 1 },
      { idempotencyKey: "k", payload: 2 },
      {
        payload: 3,
      },
      { idempotencyKey: "k", payload: 4 },
      { payload: 5, delayMs: 10 },
    );
    assert.deepEqual(out.map((j) => [j.id, j.state, j.deduplicated]), [
      ["1-0", "ready", false],
      ["1-1", "ready", false],
      ["1-2", "ready", false],
      ["1-1", "ready", true],
      ["1-4", "delayed", false],
    ]);
    assert.deepEqual(h.sm.queueStats().map((q) => [q.ready, q.delayed]), [[3, 1]]);
    assert.equal(value(h.sm.getJob("1-2")?.payload), 3);
    assert.equal(value(h.sm.getJob("1-4")?.payload), 5);
  }));

Deno.test("queue: done and dead jobs are purged by a tick after the retention period", () =>
  withHarness((h) => {
    h.enqueue(0, "q", {}, {});
    const [job] = h.claim(10, "q");
    h.apply(20, { type: "ack", id: job.id, lease: job.lease });
    h.apply(1000, { type: "tick", retentionMs: 5000 });
    assert.ok(h.sm.getJob(job.id), "kept within retention");
    const r = h.apply(6000, { type: "tick", retentionMs: 5000 });
    assert.deepEqual(r, { type: "ticked", expired: 0, purged: 1, more: false });
    assert.equal(h.sm.getJob(job.id), null);
    assert.ok(h.sm.getJob("1-1"), "the ready job stays");
  }));

Deno.test("queue: a tick that takes a whole batch of due work says more may be due", () =>
  withHarness((h) => {
    h.enqueue(0, "q", ...Array.from({ length: 1_100 }, (_, k) => ({ payload: k, delayMs: 100 })));
    const more = [1, 2, 3].map((k) => {
      const r = h.apply(200 + k, { type: "tick", retentionMs: 5000 });
      return r.type === "ticked" && r.more;
    });
    // (each tick's later stamp promotes 250 as any entry's does, then the tick 250 more)
    assert.deepEqual(more, [true, true, false], "500, 500, then the last 100");
    assert.equal(h.sm.queueView("q").ready, 1_100);
  }));

Deno.test("queue: cancel stops a job that is not done", () =>
  withHarness((h) => {
    h.enqueue(0, "q", {}, {});
    assert.deepEqual(h.apply(1, { type: "cancel", id: "1-0" }), { type: "cancelled", id: "1-0" });
    assert.equal(h.sm.getJob("1-0")!.state, "cancelled");
    const [job] = h.claim(2, "q");
    h.apply(3, { type: "ack", id: job.id, lease: job.lease });
    const r = h.apply(4, { type: "cancel", id: job.id });
    assert.equal(r.type === "error" && r.code, "conflict");
    const missing = h.apply(5, { type: "cancel", id: "nope" });
    assert.equal(missing.type === "error" && missing.code, "not_found");
  }));

Deno.test("queue: a job cancelled while leased answers its worker 409 cancelled", () =>
  withHarness((h) => {
    h.enqueue(0, "q", {});
    const [job] = h.claim(1, "q");
    h.apply(2, { type: "cancel", id: job.id });
    const { id, lease } = job;
    for (
      const cmd of [
        { type: "ack", id, lease },
        { type: "nack", id, lease },
        { type: "extend", id, lease, leaseMs: 5000 },
        { type: "progress", id, lease, progress: "1" },
        { type: "release", id, lease },
      ] as QueueCommand[]
    ) {
      const r = h.apply(3, cmd);
      assert.equal(r.type === "error" && r.code, "cancelled", cmd.type);
    }
    assert.equal(h.sm.getJob(id)!.state, "cancelled");
  }));

Deno.test("queue: release puts a leased job back without using an attempt", () =>
  withHarness((h) => {
    h.enqueue(0, "q", {});
    const [first] = h.claim(1, "q");
    const r = h.apply(2, { type: "release", id: first.id, lease: first.lease });
    assert.deepEqual(r, { type: "released", id: first.id, state: "ready" });
    assert.equal(h.sm.getJob(first.id)!.attempts, 0);
    const [again] = h.claim(3, "q");
    assert.equal(again.attempt, 1, "the release used no attempt");
    const stale = h.apply(4, { type: "release", id: first.id, lease: first.lease });
    assert.equal(stale.type === "error" && stale.code, "lease_mismatch");
    const later = h.apply(5, { type: "release", id: again.id, lease: again.lease, delayMs: 1000 });
    assert.deepEqual(later, { type: "released", id: again.id, state: "delayed" });
    assert.deepEqual(h.claim(1004, "q"), [], "not before its delay");
    assert.equal(h.claim(1005, "q")[0]?.attempt, 1);
    assert.equal(h.sm.queueStats()[0].leased, 1);
  }));

Deno.test("queue: a final nack makes the job dead whatever its attempts", () =>
  withHarness((h) => {
    h.enqueue(0, "q", { maxAttempts: 10 });
    const [job] = h.claim(1, "q");
    const r = h.apply(2, { type: "nack", id: job.id, lease: job.lease, error: "bad", final: true });
    assert.deepEqual(r, { type: "nacked", id: job.id, state: "dead" });
    const view = h.sm.getJob(job.id)!;
    assert.equal(view.state, "dead");
    assert.equal(view.lastError, "bad");
    assert.equal(view.attempts, 1);
  }));

Deno.test("queue: progress is kept on the job, by its lease only", () =>
  withHarness((h) => {
    h.enqueue(0, "q", {});
    const [job] = h.claim(1, "q");
    const p = h.apply(2, {
      type: "progress",
      id: job.id,
      lease: job.lease,
      progress: '{"pct":40}',
    });
    assert.deepEqual(p, { type: "progressed", id: job.id });
    assert.deepEqual(value(h.sm.getJob(job.id)!.progress), { pct: 40 });
    const wrong = h.apply(3, { type: "progress", id: job.id, lease: "0", progress: "1" });
    assert.equal(wrong.type === "error" && wrong.code, "lease_mismatch");
    h.apply(4, { type: "ack", id: job.id, lease: job.lease });
    assert.deepEqual(value(h.sm.getJob(job.id)!.progress), { pct: 40 }, "kept once done");
    const done = h.apply(5, { type: "progress", id: job.id, lease: job.lease, progress: "2" });
    assert.equal(done.type === "error" && done.code, "lease_mismatch");
  }));

Deno.test("queue: jobs someone waits on are woken once they end, after the apply", () =>
  withHarness((h) => {
    const woken: string[] = [];
    h.sm.jobWatch = { has: (id) => id === "1-0" || id === "1-1", wake: (id) => woken.push(id) };
    h.enqueue(0, "q", {}, {}, {});
    const jobs = h.claim(1, "q", 3);
    h.apply(2, { type: "nack", id: "1-2", lease: jobs[0].lease, final: true });
    h.apply(3, { type: "ack", id: "1-0", lease: jobs[0].lease });
    assert.deepEqual(woken, ["1-0"]);
    h.apply(4, { type: "cancel", id: "1-1" });
    assert.deepEqual(woken, ["1-0", "1-1"]);
  }));

Deno.test("queue: a paused queue takes enqueues and hands out nothing until resumed", () =>
  withHarness((h) => {
    const woken: string[] = [];
    h.sm.onReady = (q) => woken.push(q);
    assert.deepEqual(h.apply(0, { type: "pause", queue: "q", paused: true }), {
      type: "paused",
      queue: "q",
      paused: true,
    });
    h.enqueue(1, "q", {});
    h.enqueue(1, "other", {});
    assert.deepEqual(h.claim(2, "q"), []);
    assert.equal(h.sm.claimableAt("q", 2), null, "long polls keep waiting");
    assert.equal(h.claim(2, "other").length, 1, "other queues go on");
    assert.equal(h.sm.queueView("q").paused, true);
    assert.equal(h.sm.queueView("q").ready, 1);
    woken.length = 0;
    h.apply(3, { type: "pause", queue: "q", paused: false });
    assert.deepEqual(woken, ["q"], "a resume wakes the queue's long polls");
    assert.equal(h.claim(4, "q").length, 1);
    assert.deepEqual(h.sm.queueStats().map((q) => [q.name, q.paused]), [["other", false], [
      "q",
      false,
    ]]);
  }));

Deno.test("queue: a paused queue stays paused through a snapshot, a reopen and a rollback", () =>
  withHarness(async (h) => {
    h.apply(0, { type: "pause", queue: "idle", paused: true });
    assert.deepEqual(h.sm.queueStats().map((q) => [q.name, q.paused]), [["idle", true]]);
    const other = await Harness.open();
    try {
      copyStateThroughImage(h.dd.db, other.dd.db, h.index);
      other.sm.reload();
      assert.equal(other.sm.queueView("idle").paused, true);
    } finally {
      await other.close();
    }
    const reopened = new QueueStateMachine(h.dd.db);
    assert.equal(reopened.queueView("idle").paused, true);
  }));

Deno.test("queue: a queue's config gives jobs and claims their defaults; their own values win", () =>
  withHarness((h) => {
    const config = { maxAttempts: 2, leaseMs: 5_000 };
    assert.deepEqual(h.apply(0, { type: "configure", queue: "q", config }), {
      type: "configured",
      queue: "q",
      config,
    });
    const jobs = { delayMs: 0, priority: 0, payload: "1" };
    h.apply(1, { type: "enqueue", queue: "q", jobs: [{ ...jobs }, { ...jobs, maxAttempts: 9 }] });
    h.apply(1, { type: "enqueue", queue: "other", jobs: [{ ...jobs }] });
    assert.deepEqual(["2-0", "2-1", "3-0"].map((id) => h.sm.getJob(id)!.maxAttempts), [2, 9, 5]);
    const r = h.apply(10, { type: "claim", queue: "q", worker: "w", max: 1 });
    assert.equal(r.type === "claimed" && r.jobs[0].leaseExpiresAt, 10 + 5_000);
    const own = h.apply(10, { type: "claim", queue: "q", worker: "w", max: 1, leaseMs: 9_000 });
    assert.equal(own.type === "claimed" && own.jobs[0].leaseExpiresAt, 10 + 9_000);
    const other = h.apply(10, { type: "claim", queue: "other", worker: "w", max: 1 });
    assert.equal(other.type === "claimed" && other.jobs[0].leaseExpiresAt, 10 + 30_000);
    assert.deepEqual(h.sm.queueView("q").config, config);
    h.apply(11, { type: "configure", queue: "q", config: {} });
    assert.deepEqual(h.sm.queueStats().map((q) => q.name), ["other", "q"]);
  }));

Deno.test("queue: a queue's backoff policy sets the delay after a nack", () =>
  withHarness((h) => {
    const backoff = { type: "fixed" as const, baseMs: 7_000, jitter: 0 };
    h.apply(0, { type: "configure", queue: "q", config: { backoff } });
    h.enqueue(1, "q", {});
    const [job] = h.claim(2, "q");
    const r = h.apply(3, { type: "nack", id: job.id, lease: job.lease });
    assert.deepEqual(r, { type: "nacked", id: job.id, state: "delayed" });
    assert.equal(h.sm.getJob(job.id)!.availableAt, 3 + 7_000);
    const capped = { type: "exponential" as const, baseMs: 100, maxMs: 250, jitter: 0 };
    assert.equal(retryDelayMs("1-0", 2, capped), 200);
    assert.equal(retryDelayMs("1-0", 3, capped), 250);
    const jittered = retryDelayMs("1-0", 1, { type: "fixed", baseMs: 1000, jitter: 0.5 });
    assert.ok(jittered >= 500 && jittered < 1500);
  }));

Deno.test("queue: the default backoff is the one of old: 1 s doubling to 1 h, ±20% by the job", () => {
  const old = (id: string, attempts: number) => {
    const exp = Math.min(3_600_000, 1_000 * 2 ** Math.max(0, attempts - 1));
    const jitter = 0.8 + (crc32Text(`${id}#${attempts}`) % 4000) / 10000;
    return Math.round(Math.min(3_600_000, exp * jitter));
  };
  for (let attempts = 0; attempts < 30; attempts++) {
    for (const id of ["1-0", "77-3", "123456-12"]) {
      assert.equal(retryDelayMs(id, attempts), old(id, attempts), `${id} attempt ${attempts}`);
    }
  }
});

Deno.test("queue: maxDepth refuses an enqueue that does not fit, whole; a repeated key still answers", () =>
  withHarness((h) => {
    h.apply(0, { type: "configure", queue: "q", config: { maxDepth: 3 } });
    h.enqueue(1, "q", { idempotencyKey: "k" }, {});
    const over = h.apply(2, {
      type: "enqueue",
      queue: "q",
      jobs: [0, 1].map(() => ({ payload: "1", delayMs: 0, priority: 0 })),
    });
    assert.equal(over.type === "error" && over.code, "queue_full");
    assert.match(
      over.type === "error" ? over.message : "",
      /holds 2 unfinished jobs.*maxDepth is 3/,
    );
    assert.equal(h.sm.queueView("q").ready, 2, "nothing of the refused batch was added");
    const again = h.enqueue(3, "q", { idempotencyKey: "k" }, {}, { idempotencyKey: "k" });
    assert.deepEqual(again.map((j) => j.deduplicated), [true, false, true]);
    assert.equal(h.sm.queueView("q").ready, 3);
    const retry = h.apply(4, {
      type: "enqueue",
      queue: "q",
      jobs: [{ payload: "1", delayMs: 0, priority: 0, idempotencyKey: "k" }],
    });
    assert.equal(retry.type, "enqueued", "a retried enqueue of a full queue answers its job");
    const [job] = h.claim(5, "q");
    h.apply(6, { type: "ack", id: job.id, lease: job.lease });
    assert.equal(h.enqueue(7, "q", {}).length, 1, "a finished job makes room");
  }));

Deno.test("queue: a uniqueKey allows one unfinished job per queue; finished, it frees the key", () =>
  withHarness((h) => {
    const [a, b] = h.enqueue(0, "q", { uniqueKey: "u", payload: 1 }, { uniqueKey: "u" });
    assert.deepEqual(b, { id: a.id, state: "ready", deduplicated: true }, "within one batch too");
    assert.deepEqual(h.enqueue(1, "other", { uniqueKey: "u" })[0].deduplicated, false);
    const [job] = h.claim(2, "q");
    assert.deepEqual(h.enqueue(3, "q", { uniqueKey: "u" })[0], {
      id: a.id,
      state: "leased",
      deduplicated: true,
    });
    h.apply(4, { type: "ack", id: job.id, lease: job.lease });
    const [fresh] = h.enqueue(5, "q", { uniqueKey: "u" });
    assert.equal(fresh.deduplicated, false, "a finished job no longer holds the key");
    assert.equal(h.sm.getJob(fresh.id)!.uniqueKey, "u");
  }));

Deno.test("queue: a job nobody claims within its ttlMs expires; a claimed one does not", () =>
  withHarness((h) => {
    const [soon, later, claimed] = h.enqueue(
      1_000,
      "q",
      { ttlMs: 500 },
      { ttlMs: 500, delayMs: 2_000 },
      { ttlMs: 500, priority: 9 },
    );
    assert.equal(h.sm.getJob(soon.id)!.expiresAt, 1_500);
    assert.equal(h.sm.getJob(later.id)!.expiresAt, 3_500, "counted from when it is available");
    assert.equal(h.claim(1_100, "q")[0].id, claimed.id);
    assert.equal(h.sm.nextDueMs(3_600_000), 1_500);
    h.apply(1_500, { type: "tick", retentionMs: 3_600_000 });
    const view = h.sm.getJob(soon.id)!;
    assert.deepEqual([view.state, view.finishedAt, view.lastError], [
      "expired",
      1_500,
      "not claimed within its ttlMs",
    ]);
    h.apply(40_000, { type: "tick", retentionMs: 3_600_000 });
    assert.equal(h.sm.getJob(later.id)!.state, "expired");
    assert.equal(h.sm.getJob(claimed.id)!.state, "ready", "its lease ran out: ready, not expired");
    assert.deepEqual(
      [h.sm.queueView("q").expired, h.sm.listJobs("q", "expired", 10).jobs.length],
      [2, 2],
    );
    h.enqueue(40_001, "only-expired", { ttlMs: 1 });
    h.apply(40_002, { type: "tick", retentionMs: 3_600_000 });
    const listed = h.sm.queueStats().find((q) => q.name === "only-expired");
    assert.equal(listed?.expired, 1, "a queue whose jobs all expired is still listed");
  }));

Deno.test("queue: an idempotency key lasts its own window", () =>
  withHarness((h) => {
    const [first] = h.enqueue(0, "q", { idempotencyKey: "k", idempotencyWindowMs: 1_000 });
    assert.equal(h.enqueue(999, "q", { idempotencyKey: "k" })[0].id, first.id);
    assert.equal(h.sm.nextDueMs(3_600_000), 1_000);
    const [again] = h.enqueue(1_000, "q", { idempotencyKey: "k" });
    assert.notEqual(again.id, first.id, "past its window the key is free");
    assert.equal(h.enqueue(1_000 + 86_399_999, "q", { idempotencyKey: "k" })[0].id, again.id);
  }));

Deno.test("queue: a schedule fires each slot once; a repeated firing changes nothing", () =>
  withHarness((h) => {
    const spec = {
      queue: "cron",
      everyMs: 1_000,
      payload: '{"report":true}',
      overlap: "allow" as const,
      catchUp: "none" as const,
    };
    const set = h.apply(0, { type: "setSchedule", id: "s", spec, nextRunAt: 1_000 });
    assert.equal(set.type === "scheduleSet" && set.schedule.nextRunAt, 1_000);
    const fire = { type: "fire" as const, id: "s", dueMs: 1_000, slotMs: 1_000, nextRunAt: 2_000 };
    const first = h.apply(1_010, fire);
    assert.ok(first.type === "fired" && first.jobId);
    const job = h.sm.getJob(first.jobId!)!;
    assert.equal(job.payload.text, '{"report":true}');
    assert.deepEqual(h.apply(1_020, fire), { type: "fired", id: "s", jobId: null }, "stale");
    const view = h.sm.schedule("s")!;
    assert.deepEqual([view.lastRunAt, view.lastJobId, view.nextRunAt], [1_000, first.jobId, 2_000]);
    const missed = h.apply(9_000, { ...fire, dueMs: 2_000, slotMs: null, nextRunAt: 10_000 });
    assert.deepEqual(missed, { type: "fired", id: "s", jobId: null });
    assert.equal(h.sm.schedule("s")!.nextRunAt, 10_000, "a missed slot only moves it on");
    assert.equal(h.sm.queueView("cron").ready, 1);
    assert.deepEqual(h.apply(9_001, { type: "deleteSchedule", id: "s" }), {
      type: "scheduleDeleted",
      id: "s",
    });
    assert.equal(h.sm.schedule("s"), null);
    const gone = h.apply(9_002, { type: "deleteSchedule", id: "s" });
    assert.equal(gone.type === "error" && gone.code, "not_found");
  }));

Deno.test("queue: firings merged into one entry each enqueue their job, numbered by part", () =>
  withHarness((h) => {
    for (const id of ["a", "b", "c"]) {
      const spec = {
        queue: "cron",
        everyMs: 1_000,
        payload: JSON.stringify({ id }),
        overlap: "allow" as const,
        catchUp: "none" as const,
      };
      h.apply(0, { type: "setSchedule", id, spec, nextRunAt: 1_000 });
    }
    const fire = (id: string, dueMs: number) =>
      ({ type: "fire", id, dueMs, slotMs: dueMs, nextRunAt: dueMs + 1_000 }) as const;
    const r = h.apply(1_010, {
      type: "merged",
      cmds: [fire("a", 1_000), fire("b", 500), {
        type: "claim",
        queue: "cron",
        worker: "w",
        max: 1,
      }, fire("c", 1_000)],
    });
    const index = h.index;
    assert.ok(r.type === "parts");
    assert.deepEqual(r.parts[0], { type: "fired", id: "a", jobId: `${index}-0` });
    assert.deepEqual(r.parts[1], { type: "fired", id: "b", jobId: null }, "stale: no job");
    assert.ok(r.parts[2].type === "claimed" && r.parts[2].jobs[0].id === `${index}-0`);
    assert.deepEqual(r.parts[3], { type: "fired", id: "c", jobId: `${index}-3` });
    assert.equal(h.sm.getJob(`${index}-3`)!.payload.text, '{"id":"c"}');
    assert.deepEqual(
      ["a", "b", "c"].map((id) => h.sm.schedule(id)!.nextRunAt),
      [2_000, 1_000, 2_000],
    );
    assert.equal(h.sm.queueView("cron").ready, 1);
  }));

Deno.test("queue: pages of queues by name follow queues as they come and go", () =>
  withHarness((h) => {
    const names = (after?: string, limit?: number) =>
      h.sm.queueStats(after, limit).map((q) => q.name);
    h.enqueue(0, "b", {});
    const [d] = h.enqueue(0, "d", {});
    assert.deepEqual(names(), ["b", "d"]);
    assert.deepEqual([names("b", 1), names("a", 1), names("d")], [["d"], ["b"], []]);
    h.enqueue(1, "c", {});
    assert.deepEqual(names(), ["b", "c", "d"], "a new queue shows");
    h.apply(1, { type: "pause", queue: "a", paused: true });
    assert.deepEqual(names("", 2), ["a", "b"], "so does a queue with a setting alone");
    h.apply(2, { type: "pause", queue: "a", paused: false }); // (a default setting is dropped)
    assert.deepEqual(names(), ["b", "c", "d"]);
    const [job] = h.claim(3, "d");
    assert.equal(job.id, d.id);
    h.apply(4, { type: "ack", id: job.id, lease: job.lease });
    assert.deepEqual(names(), ["b", "c", "d"], "a done job still counts");
    h.apply(5, { type: "purge", queue: "d", state: "done", limit: 10 });
    assert.deepEqual(names(), ["b", "c"], "d emptied");
    h.restart();
    assert.deepEqual(names("b"), ["c"]);
  }));

Deno.test("queue: at most 10,000 schedules; replacing one still works at the limit", () =>
  withHarness((h) => {
    const spec = {
      queue: "q",
      everyMs: 60_000,
      payload: "1",
      overlap: "allow" as const,
      catchUp: "none" as const,
    };
    const entries = Array.from(
      { length: maxSchedules },
      (_, i) => h.entry(1, { type: "setSchedule", id: `s${i}`, spec, nextRunAt: 60_000 }),
    );
    h.sm.applyEntries(entries);
    assert.equal(h.sm.scheduleList().length, maxSchedules);
    const over = h.apply(2, { type: "setSchedule", id: "one-more", spec, nextRunAt: 60_000 });
    assert.equal(over.type === "error" && over.code, "conflict");
    assert.match(over.type === "error" ? over.message : "", /holds 10000 schedules/);
    const replaced = h.apply(3, { type: "setSchedule", id: "s0", spec, nextRunAt: 120_000 });
    assert.equal(replaced.type === "scheduleSet" && replaced.schedule.nextRunAt, 120_000);
    h.apply(4, { type: "deleteSchedule", id: "s1" });
    assert.equal(
      h.apply(5, { type: "setSchedule", id: "one-more", spec, nextRunAt: 0 }).type,
      "scheduleSet",
    );
  }));

Deno.test("queue: overlap skip lets a slot pass while the last firing's job is unfinished", () =>
  withHarness((h) => {
    const spec = {
      queue: "q",
      everyMs: 1_000,
      payload: "1",
      overlap: "skip" as const,
      catchUp: "none" as const,
    };
    h.apply(0, { type: "setSchedule", id: "s", spec, nextRunAt: 1_000 });
    const fire = (slot: number) =>
      h.apply(slot, { type: "fire", id: "s", dueMs: slot, slotMs: slot, nextRunAt: slot + 1_000 });
    const a = fire(1_000);
    assert.equal(a.type === "fired" && typeof a.jobId, "string");
    assert.deepEqual(fire(2_000), { type: "fired", id: "s", jobId: null }, "still ready: skipped");
    const [job] = h.claim(2_500, "q");
    h.apply(2_600, { type: "ack", id: job.id, lease: job.lease });
    const c = fire(3_000);
    assert.ok(c.type === "fired" && c.jobId !== null, "the last one finished: it fires");
  }));

Deno.test("queue: a queue's retentionMs purges its finished jobs; others keep the node's", () =>
  withHarness((h) => {
    h.apply(0, { type: "configure", queue: "short", config: { retentionMs: 1_000 } });
    h.enqueue(0, "short", {});
    h.enqueue(0, "long", {});
    for (const queue of ["short", "long"]) {
      const [job] = h.claim(10, queue);
      h.apply(20, { type: "ack", id: job.id, lease: job.lease });
    }
    assert.equal(h.sm.nextDueMs(3_600_000), 1_020, "the short queue's retention is due first");
    const r = h.apply(1_021, { type: "tick", retentionMs: 3_600_000 });
    assert.equal(r.type === "ticked" && r.purged, 1);
    assert.deepEqual([h.sm.queueView("short").done, h.sm.queueView("long").done], [0, 1]);
    assert.equal(h.sm.nextDueMs(3_600_000), 3_600_020);
  }));

Deno.test("queue: a batch enqueue is one entry, all jobs in order", () =>
  withHarness((h) => {
    const jobs = h.enqueue(0, "q", ...Array.from({ length: 100 }, (_, i) => ({ payload: i })));
    assert.equal(jobs.length, 100);
    assert.equal(h.index, 1);
    const claimed = h.claim(1, "q", 100);
    assert.deepEqual(
      claimed.map((j) => value(j.payload)),
      Array.from({ length: 100 }, (_, i) => i),
    );
  }));

Deno.test("queue: an entry without a valid command is answered with an error and still applied", () =>
  withHarness((h) => {
    const r = h.sm.applyEntries([{ index: 1, term: 1, kind: "normal", data: "{garbage" }]);
    assert.equal(r.get(1)?.type, "error");
    assert.equal(h.sm.appliedIndex, 1);
    h.sm.applyEntries([{ index: 2, term: 1, kind: "noop", data: "" }]);
    assert.equal(h.sm.appliedIndex, 2);
  }));

Deno.test("queue: entries at or below the applied index are skipped (replay after restart)", () =>
  withHarness(async (h) => {
    h.enqueue(0, "q", {});
    const entry: Entry = {
      index: 1,
      term: 1,
      kind: "normal",
      data: encodeCommand({ type: "enqueue", queue: "q", jobs: [] as NewJob[] }, 0),
    };
    h.sm.applyEntries([entry]);
    const reopened = new QueueStateMachine(h.dd.db);
    assert.equal(reopened.appliedIndex, 1, "the applied index is durable with the tables");
    assert.throws(() => reopened.applyEntries([{ ...entry, index: 3 }]), /apply gap/);
    await Promise.resolve();
  }));

Deno.test("every hot query is served by an index; delayed and leased jobs have their own", () =>
  withHarness((h) => {
    const plans = h.sm.queryPlans();
    for (const [name, plan] of Object.entries(plans)) {
      // counts reads the small queue_counts table whole (at start-up and after an install);
      // state is one row.
      if (name === "counts" || name === "state") continue;
      // queue_counts whole too (after a start, a rollback or an install), then the index per queue.
      if (name === "minFinishedEach") {
        assert.match(plan, /SEARCH jobs USING COVERING INDEX jobs_finished_queue \(queue=\?/);
        continue;
      }
      // The first or last row of the events' primary key: a scan that stops at its first row.
      const firstRow = [
        "events.last",
        "events.oldest",
        "deps.any",
        "deps.oldestEnd",
        "groups.firstRecap",
      ];
      if (firstRow.includes(name)) {
        assert.ok(!/TEMP B-TREE/.test(plan), `${name} sorts: ${plan}`);
        continue;
      }
      assert.ok(!/\bSCAN\b/.test(plan), `${name} scans: ${plan}`);
    }
    // Partial indexes (migration 004): a ready job is in none of them, so an enqueue writes
    // fewer b-trees; their queries must still find them.
    for (const name of ["dueDelayed", "minDelayed"]) {
      assert.match(plans[name], /jobs_delayed/, name);
    }
    for (const name of ["expired", "minLeaseExpiry"]) {
      assert.match(plans[name], /jobs_leased/, name);
    }
    assert.match(plans.best, /jobs_ready/);
    assert.match(plans.oldestDead, /jobs_dead/);
    assert.match(plans.purgeState, /jobs_list/);
    assert.match(plans.purgeJobs, /jobs_finished_queue/);
    assert.match(plans.minFinished, /jobs_finished_queue/);
    // A job is found by its id through its seq, the rowid (migration 017): one search.
    for (const name of ["job", "lease", "finish", "release", "requeue", "extend", "promote"]) {
      assert.match(plans[name], /USING INTEGER PRIMARY KEY \(rowid=\?\)/, name);
    }
    // A bare `limit ?` is planned with its value, so SQLite prepares it again at every run.
    for (const [name, text] of Object.entries(h.sm.statementTexts())) {
      assert.doesNotMatch(text, /\blimit \?/i, name);
    }
    const list = h.sm.listing.plan();
    assert.match(list, /jobs_list/);
    assert.ok(!/\bSCAN\b|TEMP B-TREE/.test(list), `the page query scans or sorts: ${list}`);
  }));

Deno.test("queue: pages of a queue's jobs, newest first, with cursors that survive moves", () =>
  withHarness((h) => {
    h.enqueue(0, "q", ...Array.from({ length: 5 }, (_, i) => ({ payload: i })));
    h.enqueue(1, "other", {});
    const ids = ["1-4", "1-3", "1-2", "1-1", "1-0"];
    const first = h.sm.listJobs("q", undefined, 2);
    assert.deepEqual(first.jobs.map((j) => j.id), ids.slice(0, 2));
    const [claimed] = h.claim(2, "q"); // 1-0 moves to leased between pages
    assert.equal(claimed.id, "1-0");
    const second = h.sm.listJobs("q", undefined, 2, Number(first.next));
    assert.deepEqual(second.jobs.map((j) => j.id), ids.slice(2, 4));
    const last = h.sm.listJobs("q", undefined, 2, Number(second.next));
    assert.deepEqual(last.jobs.map((j) => [j.id, j.state]), [["1-0", "leased"]]);
    assert.equal(last.next, null);
    assert.deepEqual(h.sm.listJobs("q", "leased", 10).jobs.map((j) => j.id), ["1-0"]);
    assert.equal(h.sm.listJobs("q", "ready", 10).jobs.length, 4);
  }));

Deno.test("queue: a page holds at most 8 MiB of users' data, then ends with a cursor", () =>
  withHarness((h) => {
    const mib = `"${"x".repeat(1024 * 1024 - 2)}"`; // 1 MiB of JSON text
    for (let i = 0; i < 9; i++) {
      h.apply(i, {
        type: "enqueue",
        queue: "big",
        jobs: [{ payload: mib, delayMs: 0, priority: 0 }],
      });
    }
    const first = h.sm.listJobs("big", undefined, 100);
    assert.equal(first.jobs.length, 8, "8 MiB, not 9");
    assert.ok(first.next);
    const rest = h.sm.listJobs("big", undefined, 100, Number(first.next));
    assert.deepEqual(rest.jobs.map((j) => j.id), ["1-0"]);
    assert.equal(rest.next, null);
    assert.equal(maxPageBytes, 8 * 1024 * 1024);
    // Dead letters' pages keep the same bound.
    const claimed = h.claim(20, "big", 9);
    claimed.forEach((j, k) =>
      h.apply(21 + k, { type: "nack", id: j.id, lease: j.lease, final: true })
    );
    const dead = h.sm.deadLetters("big", 100);
    assert.equal(dead.jobs.length, 8);
    assert.equal(h.sm.deadLetters("big", 100, cursorOf(dead.next!)).jobs.length, 1);
  }));

const cursorOf = (next: string) => {
  const [finishedAt, id] = next.split(":");
  return { finishedAt: Number(finishedAt), id };
};

Deno.test("queue: dead letters go back in bulk, oldest first; finished jobs are purged in bulk", () =>
  withHarness((h) => {
    h.enqueue(0, "q", ...Array.from({ length: 5 }, () => ({ maxAttempts: 1 })));
    const jobs = h.claim(1, "q", 5);
    jobs.forEach((j, k) => h.apply(2 + k, { type: "nack", id: j.id, lease: j.lease }));
    const r = h.apply(10, { type: "retryDeadMany", queue: "q", limit: 2 });
    assert.deepEqual(r, { type: "retriedMany", retried: 2 });
    assert.deepEqual(h.sm.listJobs("q", "ready", 10).jobs.map((j) => j.id).sort(), ["1-0", "1-1"]);
    assert.equal(h.sm.queueView("q").dead, 3);
    const p = h.apply(11, { type: "purge", queue: "q", state: "dead", limit: 2 });
    assert.deepEqual(p, { type: "purged", purged: 2 });
    assert.equal(h.sm.queueView("q").dead, 1);
    assert.deepEqual(h.apply(12, { type: "purge", queue: "q", state: "done", limit: 9 }), {
      type: "purged",
      purged: 0,
    });
  }));

Deno.test("queue depths kept by apply equal a count of the jobs through every transition", () =>
  withHarness(async (h) => {
    const k = h.dd.db.kysely;
    const counted = (sm: QueueStateMachine, db = h.dd.db) => {
      const rows = db.conn.all(
        k.selectFrom("jobs").select(["queue", "state"])
          .select((eb) => eb.fn.countAll<number>().as("n")).groupBy(["queue", "state"]),
      );
      const byQueue = new Map(sm.queueStats().map((s) => [s.name, s]));
      assert.equal(
        byQueue.size,
        new Set(rows.map((r) => r.queue)).size,
        "queues with jobs, and only those",
      );
      for (const r of rows) {
        assert.equal(byQueue.get(r.queue)?.[r.state], Number(r.n), `${r.queue}/${r.state}`);
        seen.add(r.state);
      }
      const total = rows.reduce((sum, r) => sum + Number(r.n), 0);
      if (total < lastTotal) purged = true;
      lastTotal = total;
    };
    const seen = new Set<string>();
    let lastTotal = 0;
    let purged = false;
    let seed = 7;
    const rnd = (n: number) => { // mulberry32: every bit is usable
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    let now = 1_000;
    const leased: { id: string; lease: string }[] = [];
    const ids: string[] = [];
    for (let step = 0; step < 400; step++) {
      now += rnd(3) === 0 ? 40_000 : 100; // sometimes past every lease
      const queue = `q${rnd(3)}`;
      switch (rnd(8)) {
        case 0:
        case 1: {
          const jobs = h.enqueue(now, queue, {
            delayMs: rnd(4) === 0 ? 20_000 : 0,
            maxAttempts: 1 + rnd(2),
            idempotencyKey: rnd(5) === 0 ? `key${rnd(3)}` : undefined,
          }, {});
          ids.push(...jobs.map((j) => j.id));
          break;
        }
        case 2:
          leased.push(...h.claim(now, queue, 1 + rnd(2), 30_000));
          break;
        case 3: {
          const j = leased.splice(rnd(leased.length + 1), 1)[0];
          if (j) h.apply(now, { type: "ack", id: j.id, lease: j.lease });
          break;
        }
        case 4: {
          const j = leased.splice(rnd(leased.length + 1), 1)[0];
          if (!j) break;
          const r = rnd(3);
          h.apply(
            now,
            r === 0
              ? { type: "release", id: j.id, lease: j.lease, delayMs: rnd(2) * 1000 }
              : { type: "nack", id: j.id, lease: j.lease, retryDelayMs: rnd(2), final: r === 1 },
          );
          break;
        }
        case 5:
          if (ids.length) h.apply(now, { type: "cancel", id: ids[rnd(ids.length)] });
          break;
        case 6:
          if (ids.length) h.apply(now, { type: "retryDead", queue, id: ids[rnd(ids.length)] });
          break;
        default:
          h.apply(now, { type: "tick", retentionMs: rnd(2) === 0 ? 1_000 : 3_600_000 });
      }
      counted(h.sm);
    }
    assert.deepEqual([...seen].sort(), ["cancelled", "dead", "delayed", "done", "leased", "ready"]);
    assert.ok(purged, "retention purged finished jobs along the way");
    // A snapshot restored elsewhere, and a reopened file, bring the same counts.
    const other = await Harness.open();
    try {
      copyStateThroughImage(h.dd.db, other.dd.db, h.index);
      other.sm.reload();
      counted(other.sm, other.dd.db);
      assert.deepEqual(other.sm.queueStats(), h.sm.queueStats());
      assert.deepEqual(new QueueStateMachine(h.dd.db).queueStats(), h.sm.queueStats());
    } finally {
      await other.close();
    }
  }));

Deno.test("queue: users' JSON is kept as its exact text, keys like __proto__ included", () =>
  withHarness((h) => {
    const payload = '{"constructor":1, "__proto__" : {"prototype":[1e2, 12345678901234567890]}}';
    h.sm.applyEntries([h.enqueueText(1, payload)]);
    const [job] = h.claim(2, "q");
    assert.equal(job.payload.text, payload);
    const result = '{"__proto__":null,"constructor":{"name":"x"}}';
    h.apply(3, { type: "ack", id: job.id, lease: job.lease, result });
    const view = h.sm.getJob(job.id)!;
    assert.equal(view.payload.text, payload);
    assert.equal(view.result?.text, result);
    assert.equal(({} as Record<string, unknown>).prototype, undefined);
  }));

Deno.test("queue: a version 1 entry (payloads as values) is still applied", () =>
  withHarness((h) => {
    const v1 = superjson.stringify({
      v: 1,
      stampMs: 5,
      cmd: {
        type: "enqueue",
        queue: "q",
        jobs: [{ payload: { a: [1] }, delayMs: 0, priority: 0, maxAttempts: 5 }],
      },
    });
    const r = h.sm.applyEntries([{ index: ++h.index, term: 1, kind: "normal", data: v1 }]);
    assert.equal(r.get(1)?.type, "enqueued");
    assert.equal(h.sm.getJob("1-0")?.payload.text, '{"a":[1]}');
  }));

Deno.test("queue: an entry that cannot be applied fails alone, the same way every time", () =>
  withHarness((h) => {
    // A trigger stands in for any deterministic failure (a constraint, a bug's TypeError).
    h.dd.db.conn.db.exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON jobs
      WHEN NEW.payload = '"boom"' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`);
    const batch = ['"a"', '"boom"', '"b"'].map((p, k) => h.enqueueText(k, p));
    // A pause in the failing entry's own apply: undone with it, and kept in the good ones.
    h.dd.db.conn.db.exec(`CREATE TRIGGER refuse_pause BEFORE INSERT ON queue_settings
      WHEN NEW.queue = 'refused' BEGIN SELECT RAISE(ABORT, 'pause refused'); END`);
    batch.push(h.entry(3, { type: "pause", queue: "refused", paused: true }));
    batch.push(h.entry(3, { type: "pause", queue: "kept", paused: true }));
    const r = h.sm.applyEntries(batch);
    assert.equal(r.get(1)?.type, "enqueued");
    assert.equal(r.get(3)?.type, "enqueued");
    assert.equal(r.get(4)?.type, "error");
    assert.equal(h.sm.queueView("refused").paused, false, "the refused pause was rolled back");
    assert.equal(h.sm.queueView("kept").paused, true);
    const failed = r.get(2)!;
    assert.ok(failed.type === "error" && failed.code === "apply_failed", JSON.stringify(failed));
    assert.match(failed.message, /boom refused/);
    assert.equal(h.sm.appliedIndex, 5);
    assert.equal(h.sm.getJob("2-0"), null, "the failed entry changed nothing");
    assert.deepEqual(h.sm.queueStats().map((q) => q.ready), [0, 2]);
    // Reopened (a restart), the counts come from the table and agree.
    const reopened = new QueueStateMachine(h.dd.db);
    assert.deepEqual(reopened.queueStats(), h.sm.queueStats());
    assert.equal(reopened.appliedIndex, 5);
  }));

Deno.test("queue: a storage failure undoes the whole apply and is thrown", () =>
  withHarness((h) => {
    h.enqueue(1, "q", { payload: 1 });
    const before = h.sm.queueStats();
    h.dd.db.conn.db.exec("PRAGMA query_only = ON");
    const entry = h.entry(2, { type: "claim", queue: "q", worker: "w", max: 1, leaseMs: 1000 });
    assert.throws(() => h.sm.applyEntries([entry]), StorageFatalError);
    h.dd.db.conn.db.exec("PRAGMA query_only = OFF");
    assert.equal(h.sm.appliedIndex, 1);
    assert.deepEqual(h.sm.queueStats(), before, "the in-memory counts were rolled back too");
    assert.equal(h.sm.applyEntries([entry]).get(2)?.type, "claimed");
  }));

Deno.test("queue: at most 250 delayed jobs are promoted, and 250 leases expired, an entry", () =>
  withHarness((h) => {
    h.enqueue(0, "q", ...Array.from({ length: 400 }, (_, i) => ({ payload: i, delayMs: 10 })));
    // (any entry with a later stamp promotes and expires what is due; a tick does it once more)
    h.apply(100, { type: "pause", queue: "other", paused: false });
    assert.equal(h.sm.queueView("q").ready, 250, "the first 250, the earliest");
    assert.ok(h.sm.nextDueMs(1e9)! <= 100, "the rest is still due: the leader ticks again");
    h.apply(101, { type: "pause", queue: "other", paused: false });
    assert.equal(h.sm.queueView("q").ready, 400);
    assert.equal(h.claim(102, "q", 100, 1_000).length, 100);
    for (let k = 0; k < 3; k++) h.claim(102, "q", 100, 1_000);
    assert.equal(h.sm.queueView("q").leased, 400);
    h.apply(2_000, { type: "pause", queue: "other", paused: false });
    assert.equal(h.sm.queueView("q").leased, 150);
    h.apply(2_001, { type: "pause", queue: "other", paused: false });
    assert.equal(h.sm.queueView("q").leased, 0);
  }));
