// Fair groups: per queue and group, its ready and leased jobs and its turn, kept by every apply.

import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";
import { type CompiledQuery, type Kysely, sql } from "kysely";
import type { QueueGroupsTable, Tables } from "../storage/schema.ts";

/** The group of jobs enqueued without one: it takes turns like any group, never capped. */
export const noGroup = "";

/** A group as GET /v1/queues/:queue/groups answers it. */
export interface GroupView {
  group: string;
  ready: number;
  leased: number;
}

/** No groupConcurrency: a group is never held back by its own leases. */
const uncapped = Number.MAX_SAFE_INTEGER;

/** Leased jobs whose groups one entry sets again after a change of groupConcurrency. */
export const recapJobsPerEntry = 1000;

/**
 * A group with ready jobs and room under its queue's groupConcurrency is *active*; active groups
 * are kept in turn order by a partial index, so a claim reads the next groups in the round from
 * the index (O(log groups)) however many idle groups the queue has. A group served by a claim,
 * or becoming active, takes the turn after the last active one: a round robin. A group with no
 * ready and no leased jobs has no row.
 *
 * A change of the cap can only change the flag of a group with leased jobs (one with none is under
 * any cap), so it sets again the groups of the queue's leased jobs, `recapJobsPerEntry` jobs an
 * entry in seq order: group_recaps keeps where a queue's recap stands, and ticks go on with it
 * (`recapPending`). A group any apply touches meanwhile is set by the new cap at once.
 *
 * Within an entry the rows read are kept, and a change of counts alone (an ack, a claim that
 * leaves its group's turn as it was) is written once, at the entry's end (`endEntry`): 32 claims
 * of a merged entry read and write their group once, not 32 times. A change of turn or flag is
 * written at once, so the turn index that `next` reads is always the table's; a rollback forgets
 * what is kept (`reload`), the unwritten counts with the SQL they would have joined.
 */
export class GroupStore {
  readonly #db: Database;
  readonly #q: ReturnType<typeof groupQueries>;
  readonly #recapJobsPerEntry: number;
  #recapPending = false;
  /** The entry's rows by queue and group (null: none), as they stand with its changes. */
  readonly #rows = new Map<string, QueueGroupsTable | null>();
  /** Rows of #rows whose counts the table does not hold yet. */
  readonly #unwritten = new Set<string>();
  /** The entry's last active turn of each queue read, until a turn or flag changes. */
  readonly #lastTurns = new Map<string, number>();
  /** The entry's reads of each queue's active groups in turn order, until a turn or flag moves. */
  readonly #turnOrders = new Map<string, { limit: number; groups: string[] }>();

  /** `recapJobsPerEntry`: tests set fewer an entry (every replica must use the same number). */
  constructor(db: Database, perEntry = recapJobsPerEntry) {
    this.#db = db;
    this.#recapJobsPerEntry = perEntry;
    this.#q = groupQueries(db.kysely);
    this.reload();
  }

  /** Reads again what is stored (at start, after a rollback or a snapshot install). */
  reload(): void {
    this.#forgetEntry();
    this.#recapPending = this.#firstRecap() !== undefined;
  }

  /** Writes the counts the entry changed and forgets its rows (see the class comment). */
  endEntry(): void {
    this.#writeCounts();
  }

  #writeCounts(): void {
    for (const key of this.#unwritten) {
      const { queue, grp, ready, leased } = this.#rows.get(key)!;
      this.#db.conn.executeCompiled(this.#q.counts({ queue, grp, ready, leased }));
    }
    this.#forgetEntry();
  }

  #forgetEntry(): void {
    this.#rows.clear();
    this.#unwritten.clear();
    this.#lastTurns.clear();
    this.#turnOrders.clear();
  }

  /** The group's row as it stands in this entry. */
  #row(queue: string, grp: string, key: string): QueueGroupsTable | undefined {
    let row = this.#rows.get(key);
    if (row === undefined) {
      row = this.#all<QueueGroupsTable>(this.#q.get({ queue, grp }))[0] ?? null;
      this.#rows.set(key, row);
    }
    return row ?? undefined;
  }

  /** Whether some queue's groups are not all set again after a change of its cap. */
  get recapPending(): boolean {
    return this.#recapPending;
  }

  #all<R>(q: CompiledQuery): R[] {
    return this.#db.conn.executeCompiled<R>(q).rows;
  }

  /**
   * Adds `readyDelta` and `leasedDelta` to the group's jobs; `cap` is the queue's groupConcurrency.
   * `toBack`: the group was just served, so it waits for every other active group's turn. The
   * row is the entry's (read by `next` or here, with the entry's changes).
   */
  adjust(
    queue: string,
    grp: string,
    readyDelta: number,
    leasedDelta: number,
    cap: number | undefined,
    toBack = false,
  ): void {
    const key = rowKey(queue, grp);
    const row = this.#row(queue, grp, key);
    const ready = (row?.ready ?? 0) + readyDelta;
    const leased = (row?.leased ?? 0) + leasedDelta;
    if (ready < 0 || leased < 0) {
      throw new Error(`group ${queue}/${grp} would hold ${ready} ready and ${leased} leased jobs`);
    }
    if (ready === 0 && leased === 0) {
      if (row) this.#write(key, null, this.#q.drop({ queue, grp }));
      return;
    }
    const active = ready > 0 && (grp === noGroup || leased < (cap ?? uncapped)) ? 1 : 0;
    const wasActive = row?.active === 1;
    const turn = active === 1 && (!wasActive || toBack)
      ? this.#backTurn(queue, wasActive ? row!.turn : null)
      : row?.turn ?? 0;
    const now = { queue, grp, ready, leased, turn, active };
    if (row && row.turn === turn && row.active === active) {
      // Most moves change only the counts (an enqueue to an active group, an ack): kept.
      this.#rows.set(key, now);
      this.#unwritten.add(key);
    } else this.#write(key, now, this.#q.save(now));
  }

  /** Writes a change of turn or flag (or the row's end) now, with the counts as they stand. */
  #write(key: string, row: QueueGroupsTable | null, q: CompiledQuery): void {
    this.#db.conn.executeCompiled(q);
    this.#rows.set(key, row);
    this.#unwritten.delete(key);
    this.#lastTurns.clear();
    this.#turnOrders.clear();
  }

  /**
   * The turn after every active group's: `current` (an active group's own turn) when it is last
   * already, which leaves its row's turn index unwritten (a queue with one active group, claim
   * after claim).
   */
  #backTurn(queue: string, current: number | null): number {
    const last = this.#lastTurn(queue);
    return current === last ? current : last + 1;
  }

  #lastTurn(queue: string): number {
    let last = this.#lastTurns.get(queue);
    if (last === undefined) {
      last = this.#all<{ t: number | null }>(this.#q.lastTurn({ queue }))[0]?.t ?? 0;
      this.#lastTurns.set(queue, last);
    }
    return last;
  }

  /** Up to `limit` active groups of the queue, whose turn comes first, as they stand. */
  next(queue: string, limit: number): QueueGroupsTable[] {
    const read = this.#turnOrders.get(queue);
    // (a read of fewer groups than its limit saw them all)
    if (read && (read.limit >= limit || read.groups.length < read.limit)) {
      return read.groups.slice(0, limit).map((grp) => this.#rows.get(rowKey(queue, grp))!);
    }
    const rows = this.#all<QueueGroupsTable>(this.#q.next({ queue, limit })).map((row) => {
      const key = rowKey(queue, row.grp);
      const kept = this.#rows.get(key);
      if (kept) return kept;
      this.#rows.set(key, row);
      return row;
    });
    this.#turnOrders.set(queue, { limit, groups: rows.map((r) => r.grp) });
    return rows;
  }

  /** Whether the queue has an active group (flags are written at once: the table answers). */
  hasActive(queue: string): boolean {
    return this.#all(this.#q.next({ queue, limit: 1 })).length > 0;
  }

  /**
   * The queue's groupConcurrency changed: the groups of its leased jobs are active again or not by
   * the new cap, the first of them now and the rest in later entries (a recap under way for the
   * queue starts over).
   */
  recap(queue: string, cap: number | undefined): void {
    this.#recapFrom(queue, cap, -1);
  }

  /** Goes on with a recap under way (the first queue by name); `capOf`: a queue's cap now. */
  continueRecap(capOf: (queue: string) => number | undefined): void {
    const row = this.#firstRecap();
    if (row) this.#recapFrom(row.queue, capOf(row.queue), row.after_seq);
  }

  /** Sets the groups of the queue's next leased jobs after `afterSeq`; keeps its place, or not. */
  #recapFrom(queue: string, cap: number | undefined, afterSeq: number): void {
    this.#writeCounts(); // (the flags are set from the table's counts)
    const limit = this.#recapJobsPerEntry;
    const jobs = this.#all<{ seq: number; grp: string }>(
      this.#q.leasedAfter({ queue, afterSeq, limit }),
    );
    const done = new Set<string>([noGroup]); // (jobs without a group are never capped)
    for (const { grp } of jobs) {
      if (done.has(grp)) continue;
      done.add(grp);
      this.#db.conn.executeCompiled(this.#q.recapGroup({ queue, grp, cap: cap ?? uncapped }));
    }
    if (jobs.length === limit) {
      this.#db.conn.executeCompiled(this.#q.saveRecap({ queue, afterSeq: jobs.at(-1)!.seq }));
      this.#recapPending = true;
    } else {
      this.#db.conn.executeCompiled(this.#q.dropRecap({ queue }));
      this.#recapPending = this.#firstRecap() !== undefined;
    }
  }

  #firstRecap(): { queue: string; after_seq: number } | undefined {
    return this.#all<{ queue: string; after_seq: number }>(this.#q.firstRecap({}))[0];
  }

  /** The queue's named groups with ready or leased jobs, by name, after `after`. */
  page(queue: string, after: string, limit: number): GroupView[] {
    const rows = this.#all<{ grp: string; ready: number; leased: number }>(
      this.#q.page({ queue, after, limit }),
    );
    return rows.map((r) => ({ group: r.grp, ready: r.ready, leased: r.leased }));
  }

  /** The statements, for the query-plan test. */
  get queries() {
    return this.#q;
  }
}

const rowKey = (queue: string, grp: string) => `${queue}\u0000${grp}`;

/** The statements of the group store, built and compiled once. */
function groupQueries(k: Kysely<Tables>) {
  return { ...groupRowQueries(k), ...recapQueries(k) };
}

/** The statements on queue_groups' rows: read, count, move to the back, list. */
function groupRowQueries(k: Kysely<Tables>) {
  const where = (queue: string, grp: string) =>
    k.selectFrom("queue_groups").selectAll().where("queue", "=", queue).where("grp", "=", grp);
  return {
    get: prepare(["queue", "grp"], (p) => where(p.queue, p.grp)),
    save: prepare(
      ["queue", "grp", "ready", "leased", "turn", "active"],
      (p) =>
        k.insertInto("queue_groups").values({
          queue: p.queue,
          grp: p.grp,
          ready: p.ready,
          leased: p.leased,
          turn: p.turn,
          active: p.active,
        }).onConflict((oc) =>
          oc.columns(["queue", "grp"]).doUpdateSet({
            ready: p.ready,
            leased: p.leased,
            turn: p.turn,
            active: p.active,
          })
        ),
    ),
    // (setting neither turn nor active leaves the turn index unwritten)
    counts: prepare(
      ["queue", "grp", "ready", "leased"],
      (p) =>
        k.updateTable("queue_groups").set({ ready: p.ready, leased: p.leased })
          .where("queue", "=", p.queue).where("grp", "=", p.grp),
    ),
    drop: prepare(
      ["queue", "grp"],
      (p) => k.deleteFrom("queue_groups").where("queue", "=", p.queue).where("grp", "=", p.grp),
    ),
    lastTurn: prepare(
      ["queue"],
      (p) =>
        k.selectFrom("queue_groups").select((eb) => eb.fn.max<number | null>("turn").as("t"))
          .where("queue", "=", p.queue).where("active", "=", sql.lit(1)),
    ),
    next: prepare(
      ["queue", "limit"],
      (p) =>
        k.selectFrom("queue_groups").selectAll().where("queue", "=", p.queue)
          .where("active", "=", sql.lit(1)).orderBy("turn").orderBy("grp").limit(p.limit),
    ),
    page: prepare(
      ["queue", "after", "limit"],
      (p) =>
        k.selectFrom("queue_groups").select(["grp", "ready", "leased"])
          .where("queue", "=", p.queue).where("grp", ">", p.after).orderBy("grp")
          .limit(p.limit),
    ),
  };
}

/** The statements of a change of groupConcurrency: leased jobs in seq order, each group set again. */
function recapQueries(k: Kysely<Tables>) {
  return {
    leasedAfter: prepare(
      ["queue", "afterSeq", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["seq", "grp"]).where("queue", "=", p.queue)
          .where("state", "=", sql.lit("leased")).where("seq", ">", p.afterSeq)
          .orderBy("seq").limit(p.limit),
    ),
    recapGroup: prepare(
      ["queue", "grp", "cap"],
      (p) =>
        k.updateTable("queue_groups").set({
          active: sql<number>`ready > 0 AND leased < ${p.cap}`,
        }).where("queue", "=", p.queue).where("grp", "=", p.grp),
    ),
    firstRecap: prepare(
      [],
      () => k.selectFrom("group_recaps").selectAll().orderBy("queue").limit(1),
    ),
    saveRecap: prepare(
      ["queue", "afterSeq"],
      (p) =>
        k.insertInto("group_recaps").values({ queue: p.queue, after_seq: p.afterSeq })
          .onConflict((oc) => oc.column("queue").doUpdateSet({ after_seq: p.afterSeq })),
    ),
    dropRecap: prepare(
      ["queue"],
      (p) => k.deleteFrom("group_recaps").where("queue", "=", p.queue),
    ),
  };
}
