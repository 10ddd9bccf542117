// Many schedules due at once: the leader fires them batch after batch, not a batch a due check,
// and a batch's firings share one entry.

import assert from "node:assert/strict";
import { Client } from "../../src/client/mod.ts";
import { withInProcessNode } from "../helpers/in_process.ts";
import { waitFor } from "../helpers/node_process.ts";
import { decodeCommand } from "../../src/queue/commands.ts";

Deno.test("schedules: 250 due at once all fire before the next due check", () =>
  withInProcessNode(async ({ url: u, call }) => {
    const ids = Array.from({ length: 250 }, (_, k) => `s${k}`);
    for (const id of ids) {
      const put = await call(`${u}/v1/schedules/${id}`, "PUT", { queue: "q", everyMs: 1_000 });
      assert.equal(put.status, 200);
    }
    const commitIndex = async () => (await call(`${u}/admin/status`, "GET")).body.commitIndex;
    const before = await commitIndex();
    await waitFor("a first firing", async () => (await call(`${u}/v1/queues/q`, "GET")).body.ready);
    // The leader looks at 100 due schedules at a time; the due checks come 4 s apart here, so
    // only batches that follow each other at once fire all 250 before the next one.
    await waitFor("every schedule to fire", async () => {
      const list = (await call(`${u}/v1/schedules`, "GET")).body.schedules;
      return list.every((s: { lastRunAt: number | null }) => s.lastRunAt !== null);
    }, 3_000);
    // 100 firings an entry (250 entries when each was its own); a second slot may have come.
    const entries = await commitIndex() - before;
    assert.ok(entries <= 12, `250 firings took ${entries} entries`);
  }, { tuning: { dueCheckEveryMs: 4_000 } }));

Deno.test("schedules: a busy leader has two batches of firings in flight, each an entry of 100 at most", async () => {
  const realNow = Date.now;
  // The clock starts a second past a minute, so the 250 first slots (the next minute) cannot come
  // due in real time while they are set: only the move below makes them due, all at once.
  let offsetMs = (Math.floor(realNow() / 60_000) + 1) * 60_000 + 1_000 - realNow();
  Date.now = () => realNow() + offsetMs;
  try {
    await withInProcessNode(async ({ url: u, call, db }) => {
      let lastSlotMs = 0;
      for (let k = 0; k < 250; k++) {
        const put = await call(`${u}/v1/schedules/s${k}`, "PUT", { queue: "q", everyMs: 60_000 });
        assert.equal(put.status, 200);
        lastSlotMs = Math.max(lastSlotMs, put.body.nextRunAt);
      }
      // The clock moves to just past the last slot: all 250 come due together.
      offsetMs = lastSlotMs + 1_000 - realNow();
      await waitFor("every schedule to fire", async () => {
        const list = (await call(`${u}/v1/schedules`, "GET")).body.schedules;
        return list.every((s: { lastRunAt: number | null }) => s.lastRunAt !== null);
      }, 5_000);
      const rows = db.conn.db.prepare(
        "SELECT data FROM raft_log WHERE kind = 'normal' AND data != '' ORDER BY idx",
      ).all() as { data: string }[];
      const firings = rows.map((r) => decodeCommand(r.data)!).filter((c) =>
        c.cmd.type === "fire" || (c.cmd.type === "merged" && c.cmd.cmds[0].type === "fire")
      ).map((c) => ({ stampMs: c.stampMs, n: c.cmd.type === "merged" ? c.cmd.cmds.length : 1 }));
      assert.deepEqual(firings.map((f) => f.n), [100, 100, 50]);
      // The second batch was proposed with the first (one stamp), not once the first was applied.
      assert.equal(firings[1].stampMs, firings[0].stampMs);
    }, { tuning: { dueCheckEveryMs: 100, busyFiringBatchMs: -1 } }); // (as if every batch were slow)
  } finally {
    Date.now = realNow;
  }
});

Deno.test("schedules: listed by id a page at a time; the client reads every page", () =>
  withInProcessNode(async (node) => {
    const { url: u, call } = node;
    const ids = Array.from({ length: 250 }, (_, k) => `s${String(k).padStart(3, "0")}`);
    for (const id of ids) {
      const put = await call(`${u}/v1/schedules/${id}`, "PUT", { queue: "q", everyMs: 60_000 });
      assert.equal(put.status, 200);
    }
    const first = await call(`${u}/v1/schedules?limit=100`, "GET");
    assert.deepEqual(first.body.schedules.map((s: { id: string }) => s.id), ids.slice(0, 100));
    assert.equal(first.body.next, "s099");
    const last = await call(`${u}/v1/schedules?limit=100&cursor=s199`, "GET");
    assert.deepEqual(last.body.schedules.map((s: { id: string }) => s.id), ids.slice(200));
    assert.equal(last.body.next, null);
    assert.equal((await call(`${u}/v1/schedules`, "GET")).body.schedules.length, 250);
    for (const query of ["cursor=a%20b", "limit=0", "limit=1001"]) {
      const r = await call(`${u}/v1/schedules?${query}`, "GET");
      assert.equal(r.status, 400, query);
      assert.equal(r.body.error.code, "invalid_request");
    }
    // The client follows `next`: pages of 70 here (the server's default is 1,000).
    const small = ((input: string | URL | Request, init?: RequestInit) => {
      const url = String(input instanceof Request ? input.url : input);
      const paged = url.includes("/v1/schedules?") || url.endsWith("/v1/schedules")
        ? `${url}${url.includes("?") ? "&" : "?"}limit=70`
        : url;
      return node.fetch(paged, init);
    }) as typeof globalThis.fetch;
    const client = new Client({ urls: u, fetch: small });
    assert.deepEqual((await client.schedules()).map((s) => s.id), ids);
  }));

Deno.test("schedules: a firing that cannot be applied does not hold back those batched with it", () =>
  withInProcessNode(async ({ url: u, call, db }) => {
    for (const id of ["bad", "s1", "s2"]) {
      const put = await call(`${u}/v1/schedules/${id}`, "PUT", { queue: "q", everyMs: 1_000 });
      assert.equal(put.status, 200);
    }
    // A row damaged behind the API's back (a bug, a bad disk): its firing's apply throws, which
    // fails the whole entry it shares with the others.
    db.conn.db.prepare("UPDATE schedules SET spec = 'not json' WHERE id = 'bad'").run();
    await waitFor("the other schedules to fire", async () => {
      const views = await Promise.all(
        ["s1", "s2"].map((id) => call(`${u}/v1/schedules/${id}`, "GET")),
      );
      return views.every((v) => v.body.lastRunAt !== null);
    }, 5_000);
    assert.ok((await call(`${u}/v1/queues/q`, "GET")).body.ready >= 2);
  }));

Deno.test("schedules: a slot the leader reaches late after its own backlog still fires", async () => {
  // The leader's wall clock jumps past a minute's slot by 6 s, as when a busy leader works
  // through thousands of firings: the slot came due while it led, so it is fired, not missed
  // as one from an outage would be (more than 5 s late).
  const realNow = Date.now;
  let offsetMs = 0;
  Date.now = () => realNow() + offsetMs;
  try {
    await withInProcessNode(async ({ url: u, call }) => {
      const put = (id: string, body: Record<string, unknown>) =>
        call(`${u}/v1/schedules/${id}`, "PUT", { queue: id, ...body });
      assert.equal((await put("early", { everyMs: 1_000 })).status, 200);
      // A firing shows this leader has looked at its schedules since it began to lead.
      await waitFor(
        "a first firing",
        async () => (await call(`${u}/v1/queues/early`, "GET")).body.ready,
      );
      const minute = await put("minute", { everyMs: 60_000 });
      const slotMs = minute.body.nextRunAt;
      offsetMs = slotMs + 6_000 - realNow();
      await waitFor(
        "the slot to be handled",
        async () => (await call(`${u}/v1/schedules/minute`, "GET")).body.nextRunAt > slotMs,
        5_000,
      );
      const view = await call(`${u}/v1/schedules/minute`, "GET");
      assert.equal(view.body.lastRunAt, slotMs, "the slot was fired");
      assert.equal((await call(`${u}/v1/queues/minute`, "GET")).body.ready, 1);
    }, { tuning: { dueCheckEveryMs: 100 } });
  } finally {
    Date.now = realNow;
  }
});
