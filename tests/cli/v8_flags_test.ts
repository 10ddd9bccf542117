// Every documented way to run a node passes the V8 flags of src/v8_flags.ts.

import assert from "node:assert/strict";
import { v8FlagsArgument } from "../../src/v8_flags.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, root));

Deno.test("v8 flags: `deno task start`, the executable and the README's commands carry them", () => {
  const tasks = JSON.parse(read("deno.json")).tasks as Record<string, string>;
  assert.ok(tasks.start.includes(` ${v8FlagsArgument} `), tasks.start);
  assert.ok(read("scripts/compile.ts").includes("v8FlagsArgument,"), "deno task compile");
  // Each command in the README that runs the bundle as a node passes them too.
  const runs = read("README.md").match(/deno run -A[^`\n]*dist\/raftq\.js[^`\n]*/g) ?? [];
  assert.ok(runs.length >= 2, runs.join("\n"));
  for (const run of runs) assert.ok(run.includes(v8FlagsArgument), run);
});
