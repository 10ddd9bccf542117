// A queue's events as Server-Sent Events, pulled: read from SQLite only as fast as the client takes them.

import type { ApiContext } from "./context.ts";
import { eventsKey } from "./long_poll.ts";
import type { EventPosition, JobEvent } from "../queue/events.ts";

/** A quiet stream sends a comment this often, so proxies and clients see it alive. */
export const keepaliveMs = 15_000;
/** A client that leaves a chunk unread this long is disconnected (it resumes by Last-Event-ID). */
export const stallMs = 60_000;
/** Events per chunk, at most (a batch of 1,000 jobs is one entry: its events come in one). */
const eventsPerChunk = 500;

const encoder = new TextEncoder();

function sse(event: string, id: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The stream holds at most one chunk ahead of the client: each pull reads the next events from
 * the node's own applied state, or waits (up to keepaliveMs) for an apply that writes some. A
 * client that stops reading is not buffered for: after stallMs it is disconnected.
 */
export function eventStream(
  ctx: ApiContext,
  queue: string,
  start: EventPosition,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  let at = start;
  let opened = false;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const stop = new AbortController();
  signal.addEventListener("abort", () => stop.abort(), { once: true });

  async function nextChunk(): Promise<string | null> {
    let text = opened ? "" : `retry: 1000\n: the events of queue ${queue}\n\n`;
    opened = true;
    const deadline = Date.now() + keepaliveMs;
    for (;;) {
      if (stop.signal.aborted) return null;
      const r = ctx.node.queue.readEvents(queue, at, eventsPerChunk);
      if (r.lost) {
        const { trimmedThrough } = r.lost;
        const message = `events up to index ${trimmedThrough} are no longer kept`;
        text += sse("lost", String(trimmedThrough), { queue, trimmedThrough, message });
      }
      for (const e of r.events) text += sse(e.type, e.id, publicView(e));
      at = r.next;
      if (text) return text;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return ": keepalive\n\n";
      await ctx.waiters.wait(eventsKey(queue), remaining, stop.signal);
    }
  }

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      clearTimeout(stall);
      const chunk = await nextChunk();
      if (chunk === null) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(chunk));
      stall = setTimeout(() => {
        stop.abort();
        controller.error(new Error("the client read nothing for 60 s"));
      }, stallMs);
    },
    cancel() {
      clearTimeout(stall);
      stop.abort();
    },
  });
}

/** The event as `data:` carries it (its SSE id is sent beside it). */
function publicView(e: JobEvent): Omit<JobEvent, "id"> {
  const { id: _, ...rest } = e;
  return rest;
}
