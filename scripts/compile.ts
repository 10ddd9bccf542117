// `deno task compile`: builds the single executable dist/raftq where a denort runtime is at hand.

import { v8FlagsArgument } from "../src/v8_flags.ts";

const output = "dist/raftq";
const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  try {
    await Deno.stat(denort);
  } catch {
    console.error(`deno task compile: DENORT_BIN=${denort} does not exist`);
    Deno.exit(1);
  }
}
const cmd = new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "--allow-all",
    "--unstable-no-legacy-abort",
    v8FlagsArgument, // baked into the executable: every `raftq serve` runs with them
    "--quiet",
    "-o",
    output,
    "src/main.ts",
  ],
  stdout: "piped",
  stderr: "piped",
});
const result = await cmd.output();
if (result.code !== 0) {
  const reason = new TextDecoder().decode(result.stderr).split("\n").find((l) => l.trim() !== "") ??
    "unknown error";
  console.error(
    denort
      ? `deno task compile: deno compile failed with DENORT_BIN=${denort}: ${reason}`
      : "deno task compile: no denort runtime here (set DENORT_BIN to a denort binary of this Deno version; this machine cannot download one). Use `deno task bundle` for dist/raftq.js instead.",
  );
  Deno.exit(1);
}
console.log(`${output}: the raftq executable (copy it to each host and run ./raftq serve)`);
