// Command-line flags: node:util's parseArgs, its refusals said in one line a person can act on.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage_error.ts";

/** parseArgs for `command`; a refusal is a UsageError naming the command and the flag. */
export function parseFlags<T extends ParseArgsConfig>(command: string, config: T) {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError(`${command}: ${flagProblem(err)}`);
  }
}

/** What parseArgs refused, the way raftq's own checks say it ("--limit needs a value"). */
function flagProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown })?.code;
  const quoted = /'([^' ]+)/.exec(message)?.[1] ?? "?";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${quoted} (see raftq --help)`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${/argument '(.*)'\. /.exec(message)?.[1] ?? quoted}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing/.test(message)) return `${quoted} needs a value`;
      if (/does not take an argument/.test(message)) return `${quoted} takes no value`;
      if (/ambiguous/.test(message)) {
        return `${quoted} needs a value (one that starts with "-" goes as ${quoted}=VALUE)`;
      }
  }
  return message.split("\n")[0];
}
