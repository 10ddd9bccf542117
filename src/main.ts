// The raftq executable's entry point.

import { runCli } from "./cli/main.ts";

function readEnv(): Record<string, string | undefined> {
  try {
    return Deno.env.toObject();
  } catch {
    return {}; // run without --allow-env: flags alone configure raftq
  }
}

const code = await runCli(Deno.args, {
  env: readEnv(),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
Deno.exit(code);
