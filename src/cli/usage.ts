// `raftq COMMAND --help`: the command's own lines of `raftq --help`.

import { helpText } from "./help.ts";

/** Whether the arguments ask for help (before any `--` that starts a command to run). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** The usage lines of `command` (with their continuation lines), or null for an unknown one. */
export function commandUsage(command: string): string | null {
  const lines = helpText.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^ {2}raftq (\S+)/.exec(lines[i]);
    if (!m || m[1] !== command) continue;
    out.push(lines[i]);
    while (i + 1 < lines.length && /^ {4,}\S/.test(lines[i + 1])) out.push(lines[++i]);
  }
  if (out.length === 0) return null;
  const local = ["serve", "restore", "recover"].includes(command);
  const flags = command === "work" || command === "backup"
    ? "--url (RAFTQ_URL) and --token (RAFTQ_TOKEN)"
    : "--url (RAFTQ_URL), --token (RAFTQ_TOKEN) and --json";
  const common = local ? "" : `\n${command} also takes ${flags}.`;
  return `Usage:\n${out.join("\n")}\n${common}`;
}
