// `deno task sim`: runs the deterministic simulator over many seeds, or replays one with a trace.

import { parseArgs } from "node:util";
import { runSeed, type SimOptions, type SimResult } from "../tests/sim/simulation.ts";
import { runSeedOnSqlite } from "../tests/sim/sqlite_sim.ts";

const usage =
  "Usage: deno task sim [--seeds N] [--seed S] [--first F] [--nodes K] [--steps M] [--liveness-ticks L] [--sqlite]";

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`Invalid --${name} "${value}": expected a non-negative integer\n${usage}`);
    Deno.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    args: Deno.args,
    options: {
      seeds: { type: "string" },
      seed: { type: "string" },
      first: { type: "string" },
      nodes: { type: "string" },
      steps: { type: "string" },
      "liveness-ticks": { type: "string" },
      sqlite: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  Deno.exit(2);
}
if (args.help) {
  console.log(usage);
  Deno.exit(0);
}

const steps = positiveInt(args.steps, "steps", 1500);
const livenessTicks = args["liveness-ticks"] === undefined
  ? undefined
  : positiveInt(args["liveness-ticks"], "liveness-ticks", 400);
const fixedNodes = args.nodes === undefined ? undefined : positiveInt(args.nodes, "nodes", 3);
if (fixedNodes !== undefined && fixedNodes < 1) {
  console.error(`--nodes must be at least 1\n${usage}`);
  Deno.exit(2);
}
const nodeCounts = [3, 5, 7];
const sqlite = args.sqlite === true;
/** A seed on memory stores, or (--sqlite) on the production SQLite store, one file per node. */
const run = (o: Omit<SimOptions, "makeStore">): Promise<SimResult> =>
  sqlite ? runSeedOnSqlite(o) : Promise.resolve(runSeed(o));

if (args.seed !== undefined) {
  const seed = positiveInt(args.seed, "seed", 0);
  const nodes = fixedNodes ?? nodeCounts[seed % nodeCounts.length];
  const result = await run({
    seed,
    nodes,
    steps,
    livenessTicks,
    trace: (line) => console.log(line),
  });
  report([result]);
} else {
  const count = positiveInt(args.seeds, "seeds", 100);
  const first = positiveInt(args.first, "first", 1);
  const results: SimResult[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const nodes = fixedNodes ?? nodeCounts[seed % nodeCounts.length];
    const r = await run({ seed, nodes, steps, livenessTicks });
    if (!r.ok) {
      console.log(
        `FAIL seed=${seed} nodes=${nodes}: ${r.error}\n  faults: ${r.profile}\n  replay: deno task sim --seed ${seed} --nodes ${nodes} --steps ${steps}${
          sqlite ? " --sqlite" : ""
        }`,
      );
    }
    results.push(r);
  }
  report(results);
}

function report(results: SimResult[]): void {
  const sum = (f: (r: SimResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const failures = results.filter((r) => !r.ok).length;
  console.log(
    `seeds=${results.length} failures=${failures} elections=${sum((r) => r.elections)} commits=${
      sum((r) => r.commits)
    } reads=${sum((r) => r.reads)} crashes=${sum((r) => r.crashes)} snapshots=${
      sum((r) => r.snapshotsInstalled)
    } requested=${sum((r) => r.snapshotsTaken)} confChanges=${
      sum((r) => r.confChanges)
    } transfers=${sum((r) => r.transfers)} messages=${sum((r) => r.messages)}`,
  );
  if (failures > 0) Deno.exit(1);
}
