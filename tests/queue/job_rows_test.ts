// New jobs' rows: a plain job's shorter INSERT writes the very row the full one writes.

import assert from "node:assert/strict";
import type { NewJob } from "../../src/queue/commands.ts";
import {
  isPlainRow,
  jobParams,
  newJobRow,
  nullColumns,
  plainColumns,
  plainRowParams,
} from "../../src/queue/job_rows.ts";
import type { JobsTable } from "../../src/storage/schema.ts";
import { type Harness, withHarness } from "../helpers/queue_harness.ts";

const plain: NewJob = { payload: '{"n":1}', delayMs: 0, priority: 3, maxAttempts: 4 };

Deno.test("job rows: only a job with none of the optional columns set is a plain row", () => {
  const row = (job: NewJob) => newJobRow("7-0", "q", "ready", 70_000, job, 1_000, 5, 0);
  assert.equal(isPlainRow(row(plain)), true);
  assert.equal(isPlainRow(row({ ...plain, group: "g", delayMs: 50 })), true);
  const notPlain: NewJob[] = [
    { ...plain, idempotencyKey: "k" },
    { ...plain, uniqueKey: "u" },
    { ...plain, ttlMs: 1_000 },
    { ...plain, dependsOn: ["1-0"] },
    { ...plain, onFailure: "ignore" },
  ];
  for (const job of notPlain) assert.equal(isPlainRow(row(job)), false, JSON.stringify(job));
});

Deno.test("job rows: the spelled-out checks and values follow the column lists", () => {
  const row = newJobRow("7-0", "q", "ready", 70_000, plain, 1_000, 5, 0);
  const values = (r: JobsTable, columns: readonly (keyof JobsTable)[]) => columns.map((c) => r[c]);
  assert.deepEqual(plainRowParams(row), values(row, plainColumns));
  assert.deepEqual(jobParams(row), values(row, [...plainColumns, ...nullColumns]));
  assert.deepEqual(Object.keys(row), [...plainColumns, ...nullColumns], "newJobRow's order");
  for (const column of nullColumns) {
    const set = { ...row, [column]: "x" };
    assert.equal(isPlainRow(set), false, column);
    assert.deepEqual(jobParams(set), values(set, [...plainColumns, ...nullColumns]), column);
  }
});

/** Every column of the jobs' rows, in enqueue order. */
function rows(h: Harness): Record<string, unknown>[] {
  return h.dd.db.conn.db.prepare("SELECT * FROM jobs ORDER BY seq").all().map((r) => ({ ...r }));
}

Deno.test("job rows: plain jobs' rows equal those the full INSERT writes for the same jobs", () =>
  withHarness((h) => {
    const jobs = [{ payload: { n: 1 } }, { payload: "two", priority: 2, group: "g" }, {
      payload: null,
      delayMs: 500,
      maxAttempts: 9,
    }];
    h.enqueue(1_000, "q", ...jobs); // a plain run
    // The same jobs beside one with a TTL: the run is not plain, so all take the full INSERT.
    h.enqueue(1_000, "q", ...jobs, { payload: 4, ttlMs: 60_000 });
    const [a, b] = [rows(h).slice(0, 3), rows(h).slice(3, 6)];
    const same = (r: Record<string, unknown>) => ({ ...r, id: undefined, seq: undefined });
    assert.deepEqual(a.map(same), b.map(same));
    assert.deepEqual(a.map((r) => [r.result, r.lease, r.expire_at, r.deps_left]), [
      [null, null, null, 0],
      [null, null, null, 0],
      [null, null, null, 0],
    ]);
    assert.deepEqual(a.map((r) => r.state), ["ready", "ready", "delayed"]);
  }));
