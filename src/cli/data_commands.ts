// backup, restore and recover: the commands that make or mend a data directory.

import { extractBackup } from "../storage/backup_file.ts";
import { recoverDataDir, restoreBackup } from "../storage/restore.ts";
import { ClientError } from "./client.ts";
import type { CliIo } from "./main.ts";
import { parseHttpUrl } from "./serve_args.ts";
import { UsageError } from "./usage_error.ts";
import { parseFlags } from "./flags.ts";

function flags(command: string, argv: string[], names: string[]): Record<string, string> {
  const values = parseFlags(command, {
    args: argv,
    options: Object.fromEntries(names.map((n) => [n, { type: "string" as const }])),
    strict: true,
  }).values as Record<string, string | undefined>;
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}

function need(v: Record<string, string>, name: string, command: string): string {
  if (!v[name]) throw new UsageError(`${command} needs --${name}`);
  return v[name];
}

/** `raftq backup --out FILE`: streams the leader's backup to FILE, checked before it is kept. */
async function backup(argv: string[], io: CliIo): Promise<number> {
  const v = flags("backup", argv, ["url", "token", "out"]);
  const out = need(v, "out", "backup");
  // Received into FILE.partial, opened first: a path that cannot be written fails before the
  // leader starts an image, and a backup cut short leaves no file behind.
  const partial = `${out}.partial`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, create: true, truncate: true });
  } catch (err) {
    throw new UsageError(`backup cannot write ${partial}: ${(err as Error).message}`);
  }
  try {
    const body = await requestBackup(v, io);
    await body.pipeTo(file.writable);
  } catch (err) {
    try {
      file.close(); // (pipeTo closed it already when it ran)
    } catch {
      // closed
    }
    Deno.removeSync(partial);
    if (err instanceof ClientError) throw err;
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ClientError(`the backup stream broke off (${reason}); nothing was kept`);
  }
  return keepChecked(partial, out, io);
}

/** The leader's backup stream (the node `--url` names says which node leads). */
async function requestBackup(
  v: Record<string, string>,
  io: CliIo,
): Promise<ReadableStream<Uint8Array>> {
  const token = v.token ?? io.env.RAFTQ_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let url = parseHttpUrl(v.url ?? io.env.RAFTQ_URL ?? "http://127.0.0.1:7400", "--url");
  let res: Response;
  try {
    // Backups are made by the leader: ask the node given where it is.
    const s = await (await fetch(`${url}/admin/status`, { headers })).json();
    if (s?.role !== "leader" && typeof s?.leader?.url === "string") url = s.leader.url;
    res = await fetch(`${url}/admin/backup`, { headers });
  } catch (err) {
    throw new ClientError(`cannot reach ${url}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!res.ok || !res.body) {
    const e = await res.json().catch(() => null);
    throw new ClientError(
      `${e?.error?.code ?? res.status}: ${e?.error?.message ?? "backup failed"}`,
    );
  }
  return res.body;
}

/** Checks the received file as a restore would (into a scratch copy), then keeps it as `out`. */
async function keepChecked(partial: string, out: string, io: CliIo): Promise<number> {
  const scratch = `${out}.check`;
  try {
    const meta = await extractBackup(partial, scratch);
    Deno.renameSync(partial, out);
    io.out(
      `backup of cluster ${meta.clusterId} at applied index ${meta.appliedIndex} written to ${out} (${
        Deno.statSync(out).size
      } bytes)`,
    );
    return 0;
  } catch (err) {
    Deno.removeSync(partial);
    throw new ClientError(`the backup received is damaged: ${(err as Error).message}`);
  } finally {
    try {
      Deno.removeSync(scratch);
    } catch {
      // never made
    }
  }
}

/** `raftq restore --from FILE --data DIR`: a data directory that founds a new cluster. */
async function restore(argv: string[], io: CliIo): Promise<number> {
  const v = flags("restore", argv, ["from", "data"]);
  const from = need(v, "from", "restore");
  const dir = need(v, "data", "restore");
  const r = await restoreBackup(from, dir);
  io.out(
    `restored ${r.jobs} jobs at applied index ${r.meta.appliedIndex} into ${dir}; start it with: raftq serve --data ${dir} (it founds cluster ${r.clusterId}; join others to it)`,
  );
  return 0;
}

/** `raftq recover --data DIR`: a survivor of a lost majority becomes a one-node cluster. */
async function recover(argv: string[], io: CliIo): Promise<number> {
  const v = flags("recover", argv, ["data"]);
  const dir = need(v, "data", "recover");
  const r = await recoverDataDir(dir);
  if (r.removed.length === 0) {
    io.out(`node ${r.id} in ${dir} is already the only voter: nothing to recover`);
    return 0;
  }
  io.out(
    `recovered ${dir}: node ${r.id} is now the only voter (removed ${
      r.removed.join(", ")
    }); its log up to index ${r.lastIndex} is kept and committed. Start it with raftq serve --data ${dir}; wipe the other members' data directories before they join it again.`,
  );
  return 0;
}

export const dataCommands: Record<string, (argv: string[], io: CliIo) => Promise<number>> = {
  backup,
  restore,
  recover,
};
