// The simulator over the production storage and queue: each node's log in a real SQLite file,
// written by the production store, applied by the production queue state machine.

import assert from "node:assert/strict";
import { runSeedOnSqlite } from "./sqlite_sim.ts";

const seeds = Number(Deno.env.get("RAFTQ_SQLITE_SIM_SEEDS") ?? 8);

Deno.test(`simulation on SQLite and the real queue: ${seeds} seeds keep every safety property`, async () => {
  let commits = 0;
  let snapshots = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = await runSeedOnSqlite({ seed: 90_000 + seed, nodes: [3, 5][seed % 2], steps: 800 });
    assert.ok(r.ok, `seed ${r.seed}: ${r.error}`);
    commits += r.commits;
    snapshots += r.snapshotsInstalled;
  }
  assert.ok(commits > seeds * 50, `only ${commits} commits`);
  assert.ok(snapshots > 0, "snapshots were installed through the SQLite chunk tables");
  // (Every replica gave every command the same answer: the checker chains each answer.)
});
