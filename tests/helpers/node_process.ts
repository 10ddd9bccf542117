// Real raftq node processes for tests: free loopback ports, temp data dirs, always killed.

import { nodeV8Flags } from "../../src/v8_flags.ts";

export interface NodeProcess {
  url: string;
  port: number;
  dataDir: string;
  child: Deno.ChildProcess;
  stderr: string[];
  /** Sends `signal` and waits for the process to exit; returns its exit code. */
  kill(signal?: Deno.Signal): Promise<number>;
  /** Waits for the process to exit by itself and its stderr to end; returns its exit code. */
  exited(): Promise<number>;
  /** Whether the process is still running. */
  readonly alive: boolean;
}

/** A port the OS says is free right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** What runs a node: the bundle when RAFTQ_BIN_JS is set (CI's cluster tests), else the source. */
export function entryPoint(): string {
  const bundle = Deno.env.get("RAFTQ_BIN_JS");
  if (bundle) return new URL(bundle, `file://${Deno.cwd()}/`).pathname;
  return new URL("../../src/main.ts", import.meta.url).pathname;
}

/** Waits until `check` passes, polling every 20 ms, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const r = await check();
      if (r) return r;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/**
 * A node's Deno flags: the V8 flags every node runs with (as the executable and `task start` do),
 * and any from RAFTQ_TEST_DENO_FLAGS for profiling a cluster by hand (e.g. `--inspect` or
 * `--v8-flags=--prof`; V8 flags there are added to the node's own).
 */
function denoFlags(): string[] {
  const extra = Deno.env.get("RAFTQ_TEST_DENO_FLAGS")?.split(" ").filter(Boolean) ?? [];
  const v8: string[] = [...nodeV8Flags];
  const other: string[] = [];
  for (const f of extra) {
    if (f.startsWith("--v8-flags=")) v8.push(...f.slice("--v8-flags=".length).split(","));
    else other.push(f);
  }
  return [`--v8-flags=${v8.join(",")}`, ...other];
}

type NodeOptions = {
  dataDir?: string;
  args?: string[];
  port?: number;
  env?: Record<string, string>;
};

/**
 * Starts a node. Without `options.port` it picks a free one, and picks again should another
 * process take that port before the node binds it (tests run in parallel, and any outgoing
 * connection may draw the same ephemeral port).
 */
export async function startNode(options: NodeOptions = {}): Promise<NodeProcess> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "raftq-node-" });
  if (options.port !== undefined) return spawnNode(options.port, dataDir, options);
  for (let attempt = 1;; attempt++) {
    const node = spawnNode(freePort(), dataDir, options);
    if (attempt === 5 || !await lostPortRace(node)) return node;
  }
}

/** Whether the node exited because its port was taken; false once it started or ended otherwise. */
export async function lostPortRace(node: NodeProcess): Promise<boolean> {
  const seen = (text: string) => node.stderr.some((line) => line.includes(text));
  await waitFor("the node to start or exit", () => seen("node_started") || !node.alive, 30_000)
    .catch(() => {});
  if (node.alive) return false;
  await node.exited();
  return seen("the port is in use");
}

function spawnNode(port: number, dataDir: string, options: NodeOptions): NodeProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      ...denoFlags(),
      entryPoint(),
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--data",
      dataDir,
      ...(options.args ?? []),
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", ...(options.env ?? {}) },
  }).spawn();
  // (assigned onto the tracked object, not spread: `alive` is a getter)
  return Object.assign(tracked(child), { url: `http://127.0.0.1:${port}`, port, dataDir });
}

/** A raftq process other than a node (raftq work, say), with its stderr lines collected. */
export type RaftqProcess = Omit<NodeProcess, "url" | "port" | "dataDir">;

/** Starts the raftq command line (the bundle, or the source) with `args`; the caller kills it. */
export function startRaftq(args: string[], env: Record<string, string> = {}): RaftqProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-no-legacy-abort", entryPoint(), ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  return tracked(child);
}

/** Collects a child's stderr lines and tracks its exit. */
function tracked(child: Deno.ChildProcess): RaftqProcess {
  const stderr: string[] = [];
  const drained = (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of child.stderr) {
      buf += decoder.decode(chunk, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop()!;
      stderr.push(...lines);
    }
    if (buf) stderr.push(buf);
  })().catch(() => {});
  let exited: number | null = null;
  const status = child.status.then((s) => (exited = s.code));
  return {
    child,
    stderr,
    async kill(signal: Deno.Signal = "SIGKILL") {
      if (exited === null) {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
      return await status;
    },
    // (its stderr read to the end too, so a caller sees the last line it wrote)
    exited: () => drained.then(() => status),
    get alive() {
      return exited === null;
    },
  };
}

/** Starts a node and waits until it is ready (a member that knows a leader). */
export async function startReadyNode(
  options: Parameters<typeof startNode>[0] = {},
): Promise<NodeProcess> {
  const node = await startNode(options);
  try {
    await waitFor("the node to be ready", async () => {
      const r = await fetch(`${node.url}/readyz`, {
        headers: options.env?.RAFTQ_TOKEN
          ? { authorization: `Bearer ${options.env.RAFTQ_TOKEN}` }
          : {},
      });
      await r.body?.cancel();
      return r.status === 200;
    }, 15_000);
  } catch (err) {
    await node.kill();
    throw new Error(`${(err as Error).message}\n${node.stderr.join("\n")}`);
  }
  return node;
}

/** Runs the raftq command line (the bundle, or the source) to completion; output trimmed. */
export async function runRaftq(
  args: string[],
  options: { permissions?: string[]; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? ["-A"]), entryPoint(), ...args],
    stdout: "piped",
    stderr: "piped",
    ...(options.stdin === undefined ? {} : { stdin: "piped" as const }),
    env: { NO_COLOR: "1" },
  });
  let out: Deno.CommandOutput;
  if (options.stdin === undefined) out = await command.output();
  else {
    const child = command.spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
    out = await child.output();
  }
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout).trim(),
    stderr: new TextDecoder().decode(out.stderr).trim(),
  };
}

/** JSON request helper: returns status, headers and parsed body. */
export async function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; headers: Headers; body: any }> {
  const send = () =>
    fetch(url, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  let res: Response;
  try {
    res = await send();
  } catch (err) {
    // A pooled keep-alive connection the server just closed: a GET is safe to send once more.
    if (method !== "GET") throw err;
    res = await send();
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
