// Long payloads live apart from their jobs' rows, and every way a job is read or removed follows.

import assert from "node:assert/strict";
import { inlinePayloadChars } from "../../src/queue/job_payloads.ts";
import { type Harness, value, withHarness, withTwoHarnesses } from "../helpers/queue_harness.ts";
import { copyStateThroughImage } from "../helpers/image.ts";
import { startInProcessNode } from "../helpers/in_process.ts";

const long = "l".repeat(inlinePayloadChars + 1);
const short = "s".repeat(inlinePayloadChars - 10);

/** Each job's payload as its row holds it, and the payloads kept apart, by seq. */
function stored(h: Harness) {
  const all = (sql: string) => h.dd.db.conn.db.prepare(sql).all().map((r) => ({ ...r }));
  return {
    rows: all("SELECT id, length(payload) AS chars FROM jobs ORDER BY seq"),
    apart: all("SELECT seq, length(payload) AS chars FROM job_payloads ORDER BY seq"),
  };
}

Deno.test("payloads: a long one is kept apart, and claims, reads and listings return it whole", () =>
  withHarness((h) => {
    const [a, b] = h.enqueue(1, "q", { payload: long }, { payload: short });
    assert.deepEqual(stored(h), {
      rows: [{ id: a.id, chars: 0 }, { id: b.id, chars: inlinePayloadChars - 8 }],
      apart: [{ seq: 10_000, chars: inlinePayloadChars + 3 }],
    });
    const claimed = h.claim(2, "q", 2);
    assert.deepEqual(claimed.map((j) => value(j.payload)), [long, short]);
    assert.equal(value(h.sm.getJob(a.id)?.payload), long);
    const page = h.sm.listJobs("q", undefined, 10);
    assert.deepEqual(page.jobs.map((j) => value(j.payload)).sort(), [long, short]);
    const acked = h.apply(3, { type: "ack", id: a.id, lease: claimed[0].lease, result: "7" });
    assert.equal(acked.type, "acked");
    assert.equal(value(h.sm.getJob(a.id)?.payload), long, "a finished job keeps it");
  }));

Deno.test("payloads: a JSON text of inlinePayloadChars stays in its row, one more goes apart", () =>
  withHarness((h) => {
    const atLimit = "e".repeat(inlinePayloadChars - 2); // (its JSON text adds two quotes)
    const [a, b] = h.enqueue(1, "q", { payload: atLimit }, { payload: `${atLimit}e` });
    assert.deepEqual(stored(h), {
      rows: [{ id: a.id, chars: inlinePayloadChars }, { id: b.id, chars: 0 }],
      apart: [{ seq: 10_001, chars: inlinePayloadChars + 1 }],
    });
  }));

Deno.test("payloads: a purge and the retention take the payloads of the jobs they remove", () =>
  withHarness((h) => {
    const [a, b] = h.enqueue(1, "q", { payload: long }, { payload: long });
    for (const j of h.claim(2, "q", 2)) h.apply(3, { type: "ack", id: j.id, lease: j.lease });
    h.apply(4, { type: "configure", queue: "q", config: { retentionMs: 1000 } });
    const [c] = h.enqueue(5, "q", { payload: long });
    h.apply(6, { type: "cancel", id: c.id });
    const purged = h.apply(7, { type: "purge", queue: "q", state: "cancelled", limit: 10 });
    assert.deepEqual(purged, { type: "purged", purged: 1 });
    assert.equal(stored(h).apart.length, 2, "only the cancelled job's went");
    const ticked = h.apply(5_000, { type: "tick", retentionMs: 60_000 });
    assert.equal(ticked.type === "ticked" && ticked.purged, 2);
    assert.deepEqual(stored(h), { rows: [], apart: [] });
    assert.equal(h.sm.getJob(a.id), null);
    assert.equal(h.sm.getJob(b.id), null);
  }));

Deno.test("payloads: a snapshot image carries the payloads kept apart", () =>
  withTwoHarnesses((from, to) => {
    const [a] = from.enqueue(1, "q", { payload: long });
    copyStateThroughImage(from.dd.db, to.dd.db, from.index);
    to.sm.reload();
    assert.equal(value(to.sm.getJob(a.id)?.payload), long);
    assert.deepEqual(stored(to), stored(from));
  }));

Deno.test("payloads: a claim no writer waits for leaves a long payload unread, same rows", () =>
  withTwoHarnesses((leader, follower) => {
    follower.sm.answered = () => false;
    const read: string[] = [];
    const conn = follower.dd.db.conn;
    const run = conn.executeCompiled.bind(conn);
    conn.executeCompiled = ((q: Parameters<typeof run>[0]) => {
      read.push(q.sql);
      return run(q);
    }) as typeof conn.executeCompiled;
    for (const h of [leader, follower]) h.enqueue(1, "q", { payload: long }, { payload: short });
    const answers = [leader, follower].map((h) => h.claim(2, "q", 2).map((j) => value(j.payload)));
    assert.deepEqual(answers, [[long, short], [null, short]]);
    assert.ok(!read.some((sql) => sql.includes('from "job_payloads"')), "nothing read from it");
    assert.deepEqual(stored(follower), stored(leader));
    assert.equal(value(follower.sm.getJob("1-0")?.payload), long, "a read still has it");
  }));

Deno.test("payloads: a node answers its own claim with the whole payload", async () => {
  const node = await startInProcessNode();
  try {
    const job = { payload: long, delayMs: 0, priority: 0 };
    await node.node.propose({ type: "enqueue", queue: "q", jobs: [job] });
    const r = await node.node.propose({ type: "claim", queue: "q", worker: "w", max: 1 });
    assert.equal(r.type === "claimed" && r.jobs[0].payload.text, long);
  } finally {
    await node.stop();
  }
});
