// The prepared statements over ready_runs and run_payloads (see ready_runs.ts).

import type { Kysely } from "kysely";
import { prepare } from "../storage/prepared.ts";
import type { Tables } from "../storage/schema.ts";

/** Every statement ReadyRuns runs, by name, so a test can ask SQLite for each one's plan. */
export function runQueries(k: Kysely<Tables>) {
  return {
    // The run whose seqs may hold `seq`: the last one starting at or before it.
    containing: prepare(
      ["seq"],
      (p) =>
        k.selectFrom("ready_runs").selectAll().where("first_seq", "<=", p.seq)
          .orderBy("first_seq", "desc").limit(1),
    ),
    claimOrder: prepare(
      ["queue", "limit"],
      (p) =>
        k.selectFrom("ready_runs").selectAll().where("queue", "=", p.queue)
          .orderBy("priority", "desc").orderBy("available_at").orderBy("first_seq")
          .limit(p.limit),
    ),
    newest: prepare(
      ["queue", "before", "limit"],
      (p) =>
        k.selectFrom("ready_runs").selectAll().where("queue", "=", p.queue)
          .where("first_seq", "<", p.before).orderBy("first_seq", "desc").limit(p.limit),
    ),
    setNext: prepare(
      ["first", "next"],
      (p) => k.updateTable("ready_runs").set({ next_seq: p.next }).where("first_seq", "=", p.first),
    ),
    setEnd: prepare(
      ["first", "end"],
      (p) => k.updateTable("ready_runs").set({ end_seq: p.end }).where("first_seq", "=", p.first),
    ),
    drop: prepare(
      ["first"],
      (p) => k.deleteFrom("ready_runs").where("first_seq", "=", p.first),
    ),
    payloads: prepare(
      ["id"],
      (p) => k.selectFrom("run_payloads").selectAll().where("id", "=", p.id),
    ),
    payloadsEnd: prepare(
      ["id"],
      (p) => k.selectFrom("run_payloads").select("end_seq").where("id", "=", p.id),
    ),
    // A run still reading payloads `id` (split runs share them; all lie within its seqs).
    sharing: prepare(
      ["id", "end"],
      (p) =>
        k.selectFrom("ready_runs").select("first_seq").where("first_seq", ">=", p.id)
          .where("first_seq", "<", p.end).where("payloads_id", "=", p.id).limit(1),
    ),
    dropPayloads: prepare(["id"], (p) => k.deleteFrom("run_payloads").where("id", "=", p.id)),
  };
}
