// Dispatches the command line to the server or a client command; maps errors to exit codes.

import { VERSION } from "../version.ts";
import { helpText } from "./help.ts";
import { parseServeArgs } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";
import { serve } from "../server.ts";
import { ClientError, runClient } from "./client.ts";
import { StartupError } from "../errors.ts";
import { dataCommands } from "./data_commands.ts";
import { work } from "./work.ts";
import { schedulesCommand } from "./schedules.ts";
import { eventsCommand } from "./events.ts";
import { commandUsage, wantsHelp } from "./usage.ts";

const clientCommands = new Set([
  "status",
  "queues",
  "pause",
  "resume",
  "jobs",
  "groups",
  "queue",
  "enqueue",
  "claim",
  "ack",
  "nack",
  "members",
  "transfer",
]);

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

function isHelpOrVersion(arg: string): boolean {
  return ["--help", "-h", "--version", "-V"].includes(arg);
}

/** Runs one command line and returns the process exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    // `deno task start -- serve ...` passes the "--" through; it means nothing here.
    const [command, ...rest] = argv[0] === "--" ? argv.slice(1) : argv;
    if (command === undefined || (command.startsWith("-") && !isHelpOrVersion(command))) {
      // Like etcd: with no command (or only flags) raftq serves.
      return await serve(parseServeArgs(command === undefined ? [] : [command, ...rest], io.env));
    }
    if (command === "--help" || command === "-h" || command === "help") {
      io.out(helpText);
      return 0;
    }
    if (command === "--version" || command === "-V" || command === "version") {
      io.out(`raftq ${VERSION}`);
      return 0;
    }
    const usage = wantsHelp(rest) ? commandUsage(command) : null;
    if (usage) {
      io.out(usage.trimEnd());
      return 0;
    }
    if (command === "serve") {
      return await serve(parseServeArgs(rest, io.env));
    }
    if (clientCommands.has(command)) {
      return await runClient(command, rest, io);
    }
    if (command in dataCommands) return await dataCommands[command](rest, io);
    if (command === "work") return await work(rest, io);
    if (command === "schedules") return await schedulesCommand(rest, io);
    if (command === "events") return await eventsCommand(rest, io);
    throw new UsageError(`unknown command "${command}" (see raftq --help)`);
  } catch (err) {
    if (err instanceof ClientError) {
      io.err(`raftq: ${err.message}`);
      return 1;
    }
    if (err instanceof UsageError || err instanceof StartupError) {
      io.err(`raftq: ${err.message}`);
      return 2;
    }
    io.err(`raftq: unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
