// parseArgs' refusals as raftq says them: one line, the command, the flag, what to do.

import assert from "node:assert/strict";
import { parseFlags } from "../../src/cli/flags.ts";
import { UsageError } from "../../src/cli/usage_error.ts";

const options = { limit: { type: "string" as const }, json: { type: "boolean" as const } };

function refusal(args: string[]): string {
  try {
    parseFlags("jobs", { args, options, strict: true });
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

Deno.test("flags: each refusal names the command and the flag in one line", () => {
  assert.equal(refusal(["--bogus"]), "jobs: unknown flag --bogus (see raftq --help)");
  assert.equal(refusal(["-z"]), "jobs: unknown flag -z (see raftq --help)");
  assert.equal(refusal(["--limit"]), "jobs: --limit needs a value");
  assert.equal(
    refusal(["--limit", "-1"]),
    'jobs: --limit needs a value (one that starts with "-" goes as --limit=VALUE)',
  );
  assert.equal(refusal(["--json=3"]), "jobs: --json takes no value");
  assert.equal(refusal(["extra"]), 'jobs: unexpected argument "extra"');
  assert.equal(refusal(["two words"]), 'jobs: unexpected argument "two words"');
});

Deno.test("flags: what parseArgs accepts comes back as it parsed it", () => {
  const parsed = parseFlags("jobs", { args: ["--limit=-1", "--json"], options, strict: true });
  assert.deepEqual({ ...parsed.values }, { limit: "-1", json: true });
});
