// The queue state machine's prepared statements over the jobs and their bookkeeping tables.

import { type Kysely, sql } from "kysely";
import { prepare } from "../storage/prepared.ts";
import { finishedStates } from "./commands.ts";
import { prepareByJob, theJob } from "./job_ids.ts";
import { keptApartSql } from "./job_payloads.ts";
import type { Tables } from "../storage/schema.ts";

/**
 * Every statement the apply and its reads run, compiled once (see prepare): by name, so a test
 * can ask SQLite for each one's plan. Queries that a partial index serves name the state as a
 * literal, so SQLite can use it.
 */
export function jobQueries(k: Kysely<Tables>) {
  return {
    ...stateQueries(k),
    ...admissionQueries(k),
    ...leaseQueries(k),
    ...transitionQueries(k),
    ...dueQueries(k),
    ...retentionQueries(k),
  };
}

/** The applied index and clock, and the per-queue counts kept with them. */
function stateQueries(k: Kysely<Tables>) {
  return {
    state: prepare([], () => k.selectFrom("queue_state").selectAll()),
    saveState: prepare(
      ["applied", "now"],
      (p) =>
        k.insertInto("queue_state").values({ id: 1, applied_index: p.applied, now_ms: p.now })
          .onConflict((oc) =>
            oc.column("id").doUpdateSet({ applied_index: p.applied, now_ms: p.now })
          ),
    ),
    // The whole (small) table: at start-up and after a snapshot install (see #counts).
    counts: prepare([], () => k.selectFrom("queue_counts").selectAll()),
    saveCount: prepare(
      ["queue", "state", "n"],
      (p) =>
        k.insertInto("queue_counts").values({ queue: p.queue, state: p.state, n: p.n })
          .onConflict((oc) => oc.columns(["queue", "state"]).doUpdateSet({ n: p.n })),
    ),
    dropCount: prepare(
      ["queue", "state"],
      (p) => k.deleteFrom("queue_counts").where("queue", "=", p.queue).where("state", "=", p.state),
    ),
  };
}

/** What an enqueue checks first: idempotency keys and unique keys, and their expiry. */
function admissionQueries(k: Kysely<Tables>) {
  return {
    idem: prepare(
      ["queue", "key"],
      (p) =>
        k.selectFrom("idempotency").selectAll().where("queue", "=", p.queue).where(
          "key",
          "=",
          p.key,
        ),
    ),
    saveIdem: prepare(
      ["queue", "key", "jobId", "now", "expires"],
      (p) =>
        k.insertInto("idempotency").values({
          queue: p.queue,
          key: p.key,
          job_id: p.jobId,
          created_at: p.now,
          expires_at: p.expires,
        })
          .onConflict((oc) =>
            oc.columns(["queue", "key"]).doUpdateSet({
              job_id: p.jobId,
              created_at: p.now,
              expires_at: p.expires,
            })
          ),
    ),
    unfinishedByKey: prepare(
      ["queue", "key"],
      (p) =>
        k.selectFrom("jobs").select(["id", "state"]).where("queue", "=", p.queue)
          .where("unique_key", "=", p.key)
          .where(sql<boolean>`state IN ('ready', 'delayed', 'leased', 'waiting')`),
    ),
    minIdempotency: prepare(
      [],
      () =>
        k.selectFrom("idempotency").select((eb) => eb.fn.min<number | null>("expires_at").as("t")),
    ),
    purgeIdem: prepare(["before", "limit"], (p) =>
      k.deleteFrom("idempotency").where(
        sql<number>`rowid`,
        "in",
        k.selectFrom("idempotency").select(sql<number>`rowid`.as("r"))
          .where("expires_at", "<", p.before).limit(p.limit),
      )),
  };
}

/** A job by id, the best ready ones of a group, and what a lease does to a job. */
function leaseQueries(k: Kysely<Tables>) {
  return {
    job: prepareByJob(
      [],
      (p) => k.selectFrom("jobs").selectAll().where(theJob(p)),
    ),
    best: prepare(
      ["queue", "grp", "limit"],
      (p) =>
        k.selectFrom("jobs").selectAll().where("queue", "=", p.queue).where("grp", "=", p.grp)
          .where("state", "=", sql.lit("ready")).orderBy("priority", "desc")
          .orderBy("available_at").orderBy("seq").limit(p.limit),
    ),
    lease: prepareByJob(
      ["lease", "expires", "worker", "now"],
      (p) =>
        k.updateTable("jobs").set((eb) => ({
          state: "leased",
          lease: p.lease,
          lease_expires_at: p.expires,
          attempts: eb("attempts", "+", 1),
          worker: p.worker,
          expire_at: null, // a ttlMs holds until the first claim
          updated_at: p.now,
        })).where(theJob(p)),
    ),
    extend: prepareByJob(
      ["expires", "now"],
      (p) =>
        k.updateTable("jobs").set({ lease_expires_at: p.expires, updated_at: p.now }).where(
          theJob(p),
        ),
    ),
    progress: prepareByJob(
      ["progress", "now"],
      (p) =>
        k.updateTable("jobs").set({ progress: p.progress, updated_at: p.now }).where(theJob(p)),
    ),
  };
}

/** A job's other moves: finished, released, requeued, revived, its dependencies settled. */
function transitionQueries(k: Kysely<Tables>) {
  return {
    finish: prepareByJob(["state", "result", "error", "now"], (p) =>
      k.updateTable("jobs").set({
        state: p.state,
        result: p.result,
        last_error: p.error,
        lease_expires_at: null,
        finished_at: p.now,
        updated_at: p.now,
      }).where(theJob(p))),
    release: prepareByJob(
      ["state", "availableAt", "now"],
      (p) =>
        k.updateTable("jobs").set((eb) => ({
          state: p.state,
          available_at: p.availableAt,
          attempts: eb("attempts", "-", 1),
          lease_expires_at: null,
          worker: null,
          updated_at: p.now,
        })).where(theJob(p)),
    ),
    requeue: prepareByJob(
      ["state", "availableAt", "error", "now"],
      (p) =>
        k.updateTable("jobs").set({
          state: p.state,
          available_at: p.availableAt,
          last_error: p.error,
          lease_expires_at: null,
          worker: null,
          updated_at: p.now,
        }).where(theJob(p)),
    ),
    revive: prepareByJob(["now"], (p) =>
      k.updateTable("jobs").set({
        state: "ready",
        attempts: 0,
        available_at: p.now,
        finished_at: null,
        updated_at: p.now,
      }).where(theJob(p))),
    depsLeft: prepareByJob(
      ["left"],
      (p) => k.updateTable("jobs").set({ deps_left: p.left }).where(theJob(p)),
    ),
    unwait: prepareByJob(
      ["state", "availableAt", "expireAt", "now"],
      (p) =>
        k.updateTable("jobs").set({
          state: p.state,
          deps_left: 0,
          available_at: p.availableAt,
          expire_at: p.expireAt,
          updated_at: p.now,
        }).where(theJob(p)),
    ),
  };
}

/** What comes due by the clock: delays, leases and ttlMs expiries, and the earliest of each. */
function dueQueries(k: Kysely<Tables>) {
  return {
    dueExpiry: prepare(
      ["now", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["id", "queue", "state", "grp", "attempts"]).where(
          "expire_at",
          "<=",
          p.now,
        )
          .where(sql<boolean>`state IN ('ready', 'delayed')`).limit(p.limit),
    ),
    minExpiry: prepare(
      [],
      () =>
        k.selectFrom("jobs").select((eb) => eb.fn.min<number | null>("expire_at").as("t"))
          .where("expire_at", "is not", null)
          .where(sql<boolean>`state IN ('ready', 'delayed')`),
    ),
    // Due delayed jobs and expired leases, the earliest first, at most `limit` an entry.
    dueDelayed: prepare(
      ["now", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["id", "queue", "grp", "attempts"])
          .where("state", "=", sql.lit("delayed")).where("available_at", "<=", p.now)
          .orderBy("available_at").limit(p.limit),
    ),
    promote: prepareByJob(
      ["now"],
      (p) => k.updateTable("jobs").set({ state: "ready", updated_at: p.now }).where(theJob(p)),
    ),
    expired: prepare(
      ["now", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["id", "queue", "grp", "attempts", "max_attempts"])
          .where("state", "=", sql.lit("leased")).where("lease_expires_at", "<=", p.now)
          .orderBy("lease_expires_at").limit(p.limit),
    ),
    minDelayed: prepare(
      [],
      () =>
        k.selectFrom("jobs").select((eb) => eb.fn.min<number | null>("available_at").as("t"))
          .where("state", "=", sql.lit("delayed")),
    ),
    minLeaseExpiry: prepare(
      [],
      () =>
        k.selectFrom("jobs").select((eb) => eb.fn.min<number | null>("lease_expires_at").as("t"))
          .where("state", "=", sql.lit("leased")),
    ),
  };
}

/** Finished jobs leaving: retention, purges, and dead letters retried in bulk. */
function retentionQueries(k: Kysely<Tables>) {
  return {
    purgeJobs: prepare(
      ["queue", "before", "limit"],
      (p) =>
        k.deleteFrom("jobs").where(
          "seq",
          "in",
          (eb) =>
            eb.selectFrom("jobs").select("seq").where("queue", "=", p.queue)
              .where("finished_at", "is not", null).where("finished_at", "<", p.before)
              .limit(p.limit),
        ).returning(["queue", "state", "seq", sql<number>`${sql.raw(keptApartSql)}`.as("apart")]),
    ),
    oldestDead: prepare(
      ["queue", "limit"],
      (p) =>
        k.selectFrom("jobs").select(["queue", "id", "grp"]).where("queue", "=", p.queue)
          .where("state", "=", sql.lit("dead")).orderBy("finished_at").orderBy("id")
          .limit(p.limit),
    ),
    purgeState: prepare(
      ["queue", "state", "limit"],
      (p) =>
        k.deleteFrom("jobs").where(
          "seq",
          "in",
          (eb) =>
            eb.selectFrom("jobs").select("seq").where("queue", "=", p.queue)
              .where("state", "=", p.state).orderBy("seq").limit(p.limit),
        ).returning(["seq", sql<number>`${sql.raw(keptApartSql)}`.as("apart")]),
    ),
    minFinished: prepare(
      ["queue"],
      (p) =>
        k.selectFrom("jobs").select((eb) => eb.fn.min<number | null>("finished_at").as("t"))
          .where("queue", "=", p.queue).where("finished_at", "is not", null),
    ),
    /** minFinished of every queue the counts say holds finished jobs, in one statement. */
    minFinishedEach: prepare(
      [],
      () =>
        k.selectFrom(
          k.selectFrom("queue_counts").select("queue").distinct()
            .where("state", "in", [...finishedStates]).as("f"),
        ).select((eb) => [
          "f.queue",
          eb.selectFrom("jobs").select((e) => e.fn.min<number | null>("finished_at").as("m"))
            .whereRef("jobs.queue", "=", "f.queue").where("jobs.finished_at", "is not", null)
            .as("t"),
        ]),
    ),
  };
}
