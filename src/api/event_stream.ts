// A queue's events as Server-Sent Events, pulled: read from SQLite only as fast as the client takes them.

import type { ApiContext } from "./context.ts";
import { eventsKey } from "./long_poll.ts";
import type { EventPosition, JobEvent } from "../queue/events.ts";
import type { QueueReads } from "../node/facade.ts";

/** A quiet stream sends a comment this often, so proxies and clients see it alive. */
export const keepaliveMs = 15_000;
/** A client that leaves a chunk unread this long is disconnected (it resumes by Last-Event-ID). */
export const stallMs = 60_000;
/** Events per chunk, at most (a batch of 1,000 jobs is one entry: its events come in one). */
const eventsPerChunk = 500;

const encoder = new TextEncoder();
const keepaliveBytes = encoder.encode(": keepalive\n\n");

function sse(event: string, id: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The most bytes of chunks kept for streams at the same place. A chunk is up to 500 events, and an
 * event may carry an error of 10,000 characters: counted in chunks, 1,000 streams at different
 * places could have held gigabytes until the next apply.
 */
export const maxSharedBytes = 8 * 1024 * 1024;

/** A chunk of a queue's events: its SSE bytes (none: no event yet), and where the next starts. */
interface Chunk {
  bytes: Uint8Array;
  next: EventPosition;
}

/**
 * The chunks read since the last apply, by queue and place: the streams of one queue wake
 * together after an apply and most stand at the same place, so the first reads, formats and
 * encodes the chunk and the others send its bytes (300 streams on a queue read it once, not 300
 * times).
 */
export class SharedChunks {
  #appliedIndex = -1;
  readonly #chunks = new Map<string, Chunk>();
  #bytes = 0;

  constructor(readonly reads: QueueReads) {}

  get(queue: string, at: EventPosition): Chunk {
    if (this.reads.appliedIndex !== this.#appliedIndex) {
      this.#appliedIndex = this.reads.appliedIndex; // (the events table changes only by applies)
      this.#clear();
    }
    const key = `${at.index}:${at.k} ${queue}`;
    let chunk = this.#chunks.get(key);
    if (chunk === undefined) {
      chunk = readChunk(this.reads, queue, at);
      if (this.#bytes + chunk.bytes.length > maxSharedBytes) this.#clear();
      if (chunk.bytes.length <= maxSharedBytes) {
        this.#chunks.set(key, chunk);
        this.#bytes += chunk.bytes.length;
      }
    }
    return chunk;
  }

  /** The bytes of the chunks kept (at most maxSharedBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  #clear(): void {
    this.#chunks.clear();
    this.#bytes = 0;
  }
}

const sharedChunks = new WeakMap<QueueReads, SharedChunks>();

function chunksOf(reads: QueueReads): SharedChunks {
  let chunks = sharedChunks.get(reads);
  if (!chunks) sharedChunks.set(reads, chunks = new SharedChunks(reads));
  return chunks;
}

/** The events after `at`, up to eventsPerChunk, as SSE (first a `lost` event if some are gone). */
function readChunk(reads: QueueReads, queue: string, at: EventPosition): Chunk {
  const r = reads.readEvents(queue, at, eventsPerChunk);
  let text = "";
  if (r.lost) {
    const { trimmedThrough } = r.lost;
    const message = `events up to index ${trimmedThrough} are no longer kept`;
    text += sse("lost", String(trimmedThrough), { queue, trimmedThrough, message });
  }
  for (const e of r.events) text += sse(e.type, e.id, publicView(e));
  return { bytes: encoder.encode(text), next: r.next };
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

  async function nextChunk(): Promise<Uint8Array | null> {
    if (!opened) {
      opened = true;
      return encoder.encode(`retry: 1000\n: the events of queue ${queue}\n\n`);
    }
    const deadline = Date.now() + keepaliveMs;
    const chunks = chunksOf(ctx.node.queue);
    for (;;) {
      if (stop.signal.aborted) return null;
      const chunk = chunks.get(queue, at);
      at = chunk.next;
      if (chunk.bytes.length > 0) return chunk.bytes;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return keepaliveBytes;
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
      controller.enqueue(chunk);
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
