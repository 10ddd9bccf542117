// The per-queue series of GET /metrics, streamed a page of queues at a time.

import { Gauge } from "../metrics.ts";
import type { QueueReads } from "../node/facade.ts";
import { jobStates } from "../storage/schema.ts";

/** Queues a chunk of the stream holds: a few ms of one turn, never every queue at once. */
const queuesPerChunk = 1000;

const encoder = new TextEncoder();

const queueJobs = new Gauge(
  "raftq_queue_jobs",
  "Jobs by queue and state (this node's applied state)",
  () => [],
);
const header = queueJobs.header().join("\n") + "\n";

/**
 * `head` (the node's other metrics), then raftq_queue_jobs for every queue with jobs or a setting,
 * by name, a chunk at a time as the client reads: 20,000 queues are 160,000 series (8 MB), which
 * rendered in one turn held the event loop for 300 ms a scrape. The series are written here, not
 * by Gauge.lines: queue names need no escaping in a label (A-Z a-z 0-9 _ . -), and the labels
 * sorted and escaped per series took 260–440 ms for 20,000 queues against 37–48 ms (a throwaway
 * loop). Each chunk is read when sent, so the series are samples of moments a few ms apart, as
 * Prometheus allows.
 */
export function metricsStream(head: string, queues: QueueReads): ReadableStream<Uint8Array> {
  let after: string | null = null;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (after === null) {
        after = "";
        controller.enqueue(encoder.encode(head + header));
        return;
      }
      const page = queues.queueStats(after, queuesPerChunk);
      if (page.length === 0) return controller.close();
      let text = "";
      for (const q of page) {
        for (const state of jobStates) {
          text += `${queueJobs.name}{queue="${q.name}",state="${state}"} ${q[state]}\n`;
        }
      }
      after = page[page.length - 1].name;
      controller.enqueue(encoder.encode(text));
    },
  });
}
