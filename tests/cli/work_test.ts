// `raftq work`: a shell command per job against a real node; exits, signals and what they mean.

import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "../../src/client/mod.ts";
import {
  type NodeProcess,
  type RaftqProcess,
  startRaftq,
  startReadyNode,
  waitFor,
} from "../helpers/node_process.ts";

const script = `#!/bin/sh
payload=$(cat)
case "$payload" in
  '"ok"') echo "{\\"id\\":\\"$RAFTQ_JOB_ID\\",\\"attempt\\":$RAFTQ_JOB_ATTEMPT,\\"queue\\":\\"$RAFTQ_QUEUE\\"}" ;;
  '"text"') echo "plain words" ;;
  '"fail"') echo "a first line" >&2; echo "it broke" >&2; exit 3 ;;
  '"temp"') if [ -e "$MARK" ]; then echo '"second time"'; else touch "$MARK"; exit 75; fi ;;
  '"slow"') touch "$MARK.started"; sleep 1; echo '"slept"' ;;
  '"hang"') touch "$MARK.started"; exec sleep 60 ;;
esac
`;

async function withWork(
  fn: (
    client: Client,
    start: (queue: string, ...extra: string[]) => RaftqProcess,
    spawn: (args: string[]) => RaftqProcess,
    started: () => Promise<boolean>,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "raftq-work-" });
  const jobSh = join(dir, "job.sh");
  await Deno.writeTextFile(jobSh, script, { mode: 0o755 });
  let node: NodeProcess | undefined;
  const workers: RaftqProcess[] = [];
  try {
    node = await startReadyNode();
    const url = node.url;
    const spawn = (args: string[]) => {
      const w = startRaftq(args, { MARK: join(dir, "mark") });
      workers.push(w);
      return w;
    };
    const start = (queue: string, ...extra: string[]) =>
      spawn([
        "work",
        "--url",
        url,
        "--queue",
        queue,
        "--release-delay",
        "0",
        ...extra,
        "--",
        jobSh,
      ]);
    // A command has started once it touched its marker (the job script does first thing).
    const started = () => Deno.stat(join(dir, "mark.started")).then(() => true, () => false);
    await fn(new Client({ urls: url }), start, spawn, started);
  } finally {
    await Promise.all(workers.map((w) => w.kill("SIGKILL")));
    await node?.kill();
    if (node) await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("work: exit 0 acks with stdout, another exit nacks with stderr, 75 releases", () =>
  withWork(async (client, start) => {
    const ids = await client.enqueueBatch("w", [
      { payload: "ok" },
      { payload: "text" },
      { payload: "fail", maxAttempts: 1 },
      { payload: "temp" },
    ]);
    const w = start("w", "--concurrency", "2");
    const ended = (id: string) => async () => {
      const job = await client.getJob(id);
      return job.state === "done" || job.state === "dead" ? job : undefined;
    };
    const [ok, text, fail, temp] = await Promise.all(
      ids.map((id) => waitFor(`job ${id} to end`, ended(id), 20_000)),
    );
    assert.deepEqual(ok.result, { id: ids[0], attempt: 1, queue: "w" });
    assert.equal(text.result, "plain words");
    assert.equal(fail.state, "dead");
    assert.equal(fail.lastError, "exited 3: a first line\nit broke");
    assert.equal(temp.result, "second time");
    assert.equal(temp.attempts, 1, "exit 75 gave the job back without using an attempt");
    assert.equal(await w.kill("SIGTERM"), 0);
    assert.ok(w.stderr.some((l) => l.includes(`job ${ids[0]} done`)), w.stderr.join("\n"));
  }));

Deno.test("work: SIGTERM lets a running command finish, then exits 0", () =>
  withWork(async (client, start, _spawn, started) => {
    const { id } = await client.enqueue("d", "slow");
    const w = start("d");
    await waitFor("the command to start", started);
    assert.equal(await w.kill("SIGTERM"), 0);
    const job = await client.getJob(id);
    assert.equal(job.state, "done");
    assert.equal(job.result, "slept");
  }));

Deno.test("work: a second signal kills running commands and releases their jobs", () =>
  withWork(async (client, start, _spawn, started) => {
    const { id } = await client.enqueue("k", "hang");
    const w = start("k");
    await waitFor("the command to start", started);
    w.child.kill("SIGTERM");
    await waitFor(
      "the first signal to be taken",
      () => w.stderr.some((l) => l.includes("stopping")),
    );
    const signalledAt = Date.now();
    assert.equal(await w.kill("SIGINT"), 0);
    assert.ok(Date.now() - signalledAt < 10_000, "it did not wait for the command");
    const job = await client.getJob(id);
    assert.equal(job.state, "ready");
    assert.equal(job.attempts, 0);
  }));

Deno.test("work: bad flags, or a command that cannot run, exit 2 and use no attempt", () =>
  withWork(async (client, _start, spawn) => {
    const noCommand = spawn(["work", "--queue", "q"]);
    assert.equal(await noCommand.exited(), 2);
    assert.match(noCommand.stderr.join("\n"), /needs a command after --/);
    const { id } = await client.enqueue("m", "ok");
    const w = spawn([
      "work",
      "--url",
      client.http.urls[0],
      "--queue",
      "m",
      "--",
      "/nonexistent/cmd",
    ]);
    assert.equal(await w.exited(), 2);
    assert.match(w.stderr.join("\n"), /cannot run \/nonexistent\/cmd/);
    const job = await client.getJob(id);
    assert.equal(job.state, "ready");
    assert.equal(job.attempts, 0);
  }));

Deno.test("work: --timeout kills a command that runs too long and nacks its job", () =>
  withWork(async (client, start) => {
    const { id } = await client.enqueue("t", "hang", { maxAttempts: 1 });
    const w = start("t", "--timeout", "500");
    const job = await waitFor("the job to die", async () => {
      const j = await client.getJob(id);
      return j.state === "dead" ? j : undefined;
    }, 15_000);
    assert.match(job.lastError ?? "", /longer than 500 ms/);
    assert.equal(await w.kill("SIGTERM"), 0, "no command was left running to wait for");
  }));
