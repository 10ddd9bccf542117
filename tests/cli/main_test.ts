// The executable as a user runs it: --help, --version, and exit code 2 with one line for bad flags.

import assert from "node:assert/strict";
import { VERSION } from "../../src/version.ts";
import { runRaftq } from "../helpers/node_process.ts";
import { wantsHelp } from "../../src/cli/usage.ts";

const raftq = (...args: string[]) => runRaftq(args, { permissions: ["--allow-env"] });

Deno.test("cli: --version prints the version", async () => {
  const r = await raftq("--version");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `raftq ${VERSION}`);
});

Deno.test("cli: --help lists every command", async () => {
  const r = await raftq("--help");
  assert.equal(r.code, 0);
  for (
    const cmd of [
      "serve",
      "status",
      "queues",
      "enqueue",
      "claim",
      "ack",
      "nack",
      "members",
      "transfer",
    ]
  ) {
    assert.ok(r.stdout.includes(`raftq ${cmd}`), cmd);
  }
});

Deno.test("cli: every command answers --help with its own usage, exit 0", async () => {
  const help = (await raftq("--help")).stdout;
  const commands = [...new Set([...help.matchAll(/^ {2}raftq (\w+)/gm)].map((m) => m[1]))];
  assert.ok(commands.length >= 16, commands.join(" "));
  for (const cmd of commands) {
    const r = await raftq(cmd, "--help");
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage:\n {2}raftq ${cmd}\\b`), cmd);
    assert.ok(!r.stdout.includes(`raftq ${cmd === "ack" ? "serve" : "ack"} `), `${cmd} only`);
  }
  assert.equal(wantsHelp(["--queue", "q", "--", "grep", "--help"]), false, "after -- it is CMD's");
  assert.equal(wantsHelp(["--queue", "q", "-h"]), true);
});

Deno.test("cli: a bad flag exits 2 with one line on stderr and no stack trace", async () => {
  const r = await raftq("serve", "--listen", "0.0.0.0:7400");
  assert.equal(r.code, 2);
  const lines = r.stderr.split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^raftq: refusing to listen on 0\.0\.0\.0/);
  assert.ok(!r.stderr.includes("    at "));
});

Deno.test("cli: an unknown command exits 2", async () => {
  const r = await raftq("frobnicate");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});

Deno.test("cli: `deno task start -- <args>` style leading -- is accepted", async () => {
  const r = await raftq("--", "--version");
  assert.equal(r.code, 0);
});

Deno.test("cli: with no command raftq serves (configured by RAFTQ_* variables)", async () => {
  const { freePort, waitFor } = await import("../helpers/node_process.ts");
  const port = freePort();
  const data = await Deno.makeTempDir({ prefix: "raftq-noargs-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      new URL("../../src/main.ts", import.meta.url).pathname,
    ],
    env: { RAFTQ_LISTEN: `127.0.0.1:${port}`, RAFTQ_DATA: data },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor("the node", async () => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
      await r?.body?.cancel();
      return r?.status === 200;
    });
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await Deno.remove(data, { recursive: true });
  }
});
