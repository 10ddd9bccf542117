// The event stream's store: each entry's job transitions, one row per entry and queue, trimmed.

import type { CompiledQuery } from "kysely";
import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";
import type { JobState } from "../storage/schema.ts";
import { idOfSeq, seqOfId } from "./job_ids.ts";

export const eventTypes = [
  "enqueued",
  "claimed",
  "acked",
  "nacked",
  "released",
  "dead",
  "expired",
  "cancelled",
  "progress",
  "promoted",
  "retried",
] as const;
export type EventType = typeof eventTypes[number];

/** The most events kept (whole rows go, oldest first, once more are held). */
export const eventsRetained = 1_000_000;

/** Rows trimmed at most per entry, so trimming keeps pace and no entry does much of it. */
const trimRowsPerEntry = 4;

/** One transition as stored: type, job id, state, attempt, group ('' none), and an error. */
type StoredEvent = [EventType, string, JobState, number, string, string?];

/**
 * The same transition of `jobs` jobs of consecutive seqs, the first named: a batch's enqueue, the
 * claims of a merged entry taking a run's jobs in order. One tuple where there would be `jobs`.
 */
type StoredRun = [EventType, string, JobState, number, string, number];

type Stored = StoredEvent | StoredRun;

const jobsOf = (e: Stored) => (typeof e[5] === "number" ? e[5] : 1);

/** An entry's events of one queue so far: as stored, how many they stand for, the last seq. */
interface Pending {
  stored: Stored[];
  events: number;
  lastSeq: number;
}

/** An event as the stream sends it; `id` is `<log index>:<position in the entry's events>`. */
export interface JobEvent {
  id: string;
  type: EventType;
  index: number;
  queue: string;
  jobId: string;
  state: JobState;
  attempt: number;
  group?: string;
  error?: string;
  at: number;
}

/** Where a reader stands: after event `k` of entry `index` (k = -1: before the entry's first). */
export interface EventPosition {
  index: number;
  k: number;
}

/** What a read answers: events after the position, or that some of them are no longer kept. */
export interface EventRead {
  events: JobEvent[];
  /** Set when events after the position were trimmed: the read starts after `trimmedThrough`. */
  lost?: { trimmedThrough: number };
  /** Where the reader stands after these events. */
  next: EventPosition;
}

/**
 * Events are gathered while an entry applies and written at its end, in its transaction: one row
 * per queue the entry touched, holding the entry's events for that queue as a JSON array, so a
 * batch of 1,000 jobs is one row; the same transition of jobs of consecutive seqs is one run
 * (StoredRun: a plain batch's 1,000 "enqueued" events are one tuple), read back one by one. Rows
 * carry the running total of events, so the count retained is two lookups. Past eventsRetained,
 * each entry trims the oldest entries' rows (a few) and records, per queue, the last index trimmed:
 * a reader that asks for events from before it is told that they are lost.
 */
export class EventLog {
  readonly #db: Database;
  readonly #q;
  #pending = new Map<string, Pending>();
  /** The running total of events written, and of those trimmed: read once, then kept here. */
  #total: number | null = null;
  #trimmedTotal: number | null = null;

  constructor(db: Database, readonly retained = eventsRetained) {
    this.#db = db;
    const k = db.kysely;
    this.#q = {
      // The newest entry's largest total: an entry writes one row per queue, their totals
      // running in the order its events came, which is not the rows' (idx, queue) order.
      last: prepare(
        [],
        () =>
          k.selectFrom("events").select((eb) => eb.fn.max<number>("total").as("total"))
            .where("idx", "=", (eb) => eb.selectFrom("events").select(eb.fn.max("idx").as("m"))),
      ),
      oldest: prepare([], () => k.selectFrom("events").select("idx").orderBy("idx").limit(1)),
      rowsAt: prepare(
        ["idx"],
        (p) => k.selectFrom("events").select(["queue", "total"]).where("idx", "=", p.idx),
      ),
      insert: prepare(
        ["idx", "queue", "at", "n", "total", "data"],
        (p) =>
          k.insertInto("events").values({
            idx: p.idx,
            queue: p.queue,
            at_ms: p.at,
            n: p.n,
            total: p.total,
            data: p.data,
          }),
      ),
      dropAt: prepare(["idx"], (p) => k.deleteFrom("events").where("idx", "=", p.idx)),
      trimmed: prepare(
        ["queue"],
        (p) => k.selectFrom("events_trimmed").select(["idx", "total"]).where("queue", "=", p.queue),
      ),
      saveTrimmed: prepare(
        ["queue", "idx", "total"],
        (p) =>
          k.insertInto("events_trimmed").values({ queue: p.queue, idx: p.idx, total: p.total })
            .onConflict((oc) => oc.column("queue").doUpdateSet({ idx: p.idx, total: p.total })),
      ),
      page: prepare(
        ["queue", "from", "limit"],
        (p) =>
          k.selectFrom("events").select(["idx", "at_ms", "data"]).where("queue", "=", p.queue)
            .where("idx", ">=", p.from).orderBy("idx").limit(p.limit),
      ),
    };
  }

  #all<R>(q: CompiledQuery): R[] {
    return this.#db.conn.executeCompiled<R>(q).rows;
  }

  /** Forgets what an entry gathered (it starts, or failed and changes nothing). */
  begin(): void {
    this.#pending.clear();
  }

  /** The tables changed under it (a rollback, a snapshot install): read the totals again. */
  forget(): void {
    this.#pending.clear();
    this.#total = null;
    this.#trimmedTotal = null;
  }

  record(
    queue: string,
    type: EventType,
    job: { id: string; grp: string; attempts: number },
    state: JobState,
    error?: string | null,
  ): void {
    let p = this.#pending.get(queue);
    if (!p) this.#pending.set(queue, p = { stored: [], events: 0, lastSeq: -1 });
    const seq = seqOfId(job.id);
    const last = p.stored.at(-1);
    p.events++;
    if (!error && last && seq === p.lastSeq + 1 && seq > 0 && continues(last, type, state, job)) {
      last[5] = jobsOf(last) + 1;
      p.lastSeq = seq;
      return;
    }
    const e: StoredEvent = [type, job.id, state, job.attempts, job.grp];
    if (error) e.push(error.slice(0, 200)); // (the job keeps the whole error)
    p.stored.push(e);
    p.lastSeq = error ? -1 : seq; // (an event with an error starts no run)
  }

  /** Writes the entry's events and trims the oldest rows past the retention; the queues written. */
  flush(index: number, atMs: number): string[] {
    if (this.#pending.size === 0) return [];
    let total = this.#total ?? this.#all<{ total: number | null }>(this.#q.last({}))[0]?.total ??
      this.#trimmed(allQueues).total;
    const queues = [...this.#pending.keys()];
    for (const [queue, { stored, events }] of this.#pending) {
      total += events;
      const data = JSON.stringify(stored);
      this.#db.conn.executeCompiled(
        this.#q.insert({ idx: index, queue, at: atMs, n: events, total, data }),
      );
    }
    this.#pending.clear();
    this.#total = total;
    this.#trim(total);
    return queues;
  }

  /** Drops the oldest entries' rows while more than eventsRetained events are kept. */
  #trim(total: number): void {
    for (let i = 0; i < trimRowsPerEntry; i++) {
      this.#trimmedTotal ??= this.#trimmed(allQueues).total;
      if (total - this.#trimmedTotal <= this.retained) return;
      const oldest = this.#all<{ idx: number }>(this.#q.oldest({}))[0];
      if (!oldest) return;
      const rows = this.#all<{ queue: string; total: number }>(this.#q.rowsAt(oldest));
      this.#db.conn.executeCompiled(this.#q.dropAt(oldest));
      const through = Math.max(...rows.map((r) => r.total));
      this.#save(allQueues, oldest.idx, through);
      this.#trimmedTotal = through;
      for (const r of rows) this.#save(r.queue, oldest.idx, 0);
    }
  }

  #save(queue: string, idx: number, total: number): void {
    this.#db.conn.executeCompiled(this.#q.saveTrimmed({ queue, idx, total }));
  }

  #trimmed(queue: string): { idx: number; total: number } {
    return this.#all<{ idx: number; total: number }>(this.#q.trimmed({ queue }))[0] ??
      { idx: 0, total: 0 };
  }

  /**
   * Up to about `max` of the queue's events after `after`, oldest first. When some of them were
   * trimmed, the read says so and goes on from the oldest kept.
   */
  read(queue: string, after: EventPosition, max: number): EventRead {
    const trimmed = this.#trimmed(queue).idx;
    const gone = after.index < trimmed || (after.index === trimmed && after.k !== Infinity);
    const from: EventPosition = gone && trimmed > 0 ? { index: trimmed, k: Infinity } : after;
    const events: JobEvent[] = [];
    let next = from;
    const start = from.k === Infinity ? from.index + 1 : from.index;
    const rows = this.#all<{ idx: number; at_ms: number; data: string }>(
      this.#q.page({ queue, from: start, limit: 100 }),
    );
    for (const row of rows) {
      if (events.length >= max) break;
      const skip = row.idx === from.index ? from.k : -1;
      let k = 0;
      for (const e of JSON.parse(row.data) as Stored[]) {
        const first = typeof e[5] === "number" ? seqOfId(e[1]) : -1;
        for (let j = 0; j < jobsOf(e); j++, k++) {
          if (k <= skip) continue;
          const one: StoredEvent = first < 0
            ? e as StoredEvent
            : [e[0], idOfSeq(first + j), e[2], e[3], e[4]];
          events.push(eventView(queue, row.idx, row.at_ms, k, one));
        }
      }
      next = { index: row.idx, k: Infinity };
    }
    return gone && trimmed > 0
      ? { events, lost: { trimmedThrough: trimmed }, next }
      : { events, next };
  }

  /** The statements, for the query-plan test. */
  get queries() {
    return this.#q;
  }
}

/** Whether an event of `type` to `state` for `job` is the same transition as the stored `last`. */
function continues(
  last: Stored,
  type: EventType,
  state: JobState,
  job: { attempts: number; grp: string },
): boolean {
  return last[0] === type && last[2] === state && last[3] === job.attempts &&
    last[4] === job.grp && (last.length === 5 || typeof last[5] === "number");
}

/** The events_trimmed row of the whole log (queue names are never empty). */
const allQueues = "";

function eventView(queue: string, index: number, at: number, k: number, e: StoredEvent): JobEvent {
  const [type, jobId, state, attempt, grp, error] = e;
  const view: JobEvent = { id: `${index}:${k}`, type, index, queue, jobId, state, attempt, at };
  if (grp) view.group = grp;
  if (error) view.error = error;
  return view;
}
