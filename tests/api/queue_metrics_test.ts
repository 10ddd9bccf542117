// /metrics' per-queue series: every queue's states, streamed a page of queues at a time.

import assert from "node:assert/strict";
import { metricsStream } from "../../src/api/queue_metrics.ts";
import type { QueueReads } from "../../src/node/facade.ts";
import { jobStates } from "../../src/storage/schema.ts";

Deno.test("queue metrics: 2,500 queues' series after the head, read a page at a time", async () => {
  const names = Array.from({ length: 2_500 }, (_, k) => `q${String(k).padStart(4, "0")}`);
  const pages: number[] = [];
  const reads = {
    queueStats(after = "", limit = Infinity) {
      const page = names.filter((n) => n > after).slice(0, limit);
      pages.push(page.length);
      return page.map((name, k) => ({
        name,
        paused: false,
        ...Object.fromEntries(jobStates.map((s, i) => [s, k + i])),
      }));
    },
  } as unknown as QueueReads;
  const text = await new Response(metricsStream("raftq_up 1\n", reads)).text();
  const lines = text.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 3), [
    "raftq_up 1",
    "# HELP raftq_queue_jobs Jobs by queue and state (this node's applied state)",
    "# TYPE raftq_queue_jobs gauge",
  ]);
  assert.equal(lines.length, 3 + names.length * jobStates.length);
  assert.equal(lines[3], `raftq_queue_jobs{queue="q0000",state="${jobStates[0]}"} 0`);
  assert.equal(lines.at(-1), `raftq_queue_jobs{queue="q2499",state="${jobStates.at(-1)}"} 506`);
  assert.deepEqual(pages, [1000, 1000, 500, 0], "no read of every queue at once");
});
