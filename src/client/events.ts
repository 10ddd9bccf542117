// Client.events(): a queue's event stream as an async iterator that resumes where it left off.

import type { HttpCaller } from "./http.ts";
import type { QueueEvent } from "./types.ts";

export interface EventsOptions {
  /** The log index to start at (0: the oldest kept); default: from now on. */
  from?: number;
  /** Resume right after this event (an `eventId` seen before); wins over `from`. */
  lastEventId?: string;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** One event of a text/event-stream: its id, its name and its data, once a blank line ends it. */
interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Parses Server-Sent Events from a byte stream (comments and `retry:` lines are skipped) until
 * it ends or `signal` aborts. The abort cancels the read itself: the body of a fetch is not
 * always stopped by its request's signal (a signal made with AbortSignal.any can be collected).
 */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const stop = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const message = parseBlock(block);
        if (message) yield message;
      }
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    await reader.cancel().catch(() => {});
  }
}

function parseBlock(block: string): SseMessage | null {
  const message: SseMessage = { data: "" };
  let hasData = false;
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon === 0) continue; // a comment
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") message.id = value;
    else if (field === "event") message.event = value;
    else if (field === "data") {
      message.data += (hasData ? "\n" : "") + value;
      hasData = true;
    }
  }
  return hasData ? message : null;
}

/**
 * The events of `queue`, in log order, from any of the client's nodes. When a stream breaks (a
 * node stops, a connection drops) it is opened again, on another node if need be, with the last
 * event's id as Last-Event-ID: nothing is missed or repeated while the cluster keeps the events,
 * and an event of type `lost` says when it did not.
 */
export async function* queueEvents(
  http: HttpCaller,
  queue: string,
  options: EventsOptions = {},
): AsyncGenerator<QueueEvent> {
  const { signal } = options;
  let lastId = options.lastEventId;
  const base = `/v1/queues/${encodeURIComponent(queue)}/events`;
  while (!signal?.aborted) {
    const from = lastId === undefined && options.from !== undefined ? `?from=${options.from}` : "";
    const res = await http.call<Response>({
      method: "GET",
      path: base + from,
      retrySafe: true,
      raw: true,
      signal,
      headers: lastId === undefined ? undefined : { "last-event-id": lastId },
    });
    try {
      for await (const m of parseSse(res.body!, signal)) {
        if (m.id !== undefined) lastId = m.id;
        yield { ...JSON.parse(m.data), type: m.event ?? "message", eventId: m.id } as QueueEvent;
      }
    } catch (e) {
      if (signal?.aborted) return;
      void e; // the stream broke: open it again after the last event seen
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
