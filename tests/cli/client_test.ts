// The client commands against a real node: enqueue, claim, ack, nack, status, queues, pause.

import assert from "node:assert/strict";
import { call, freePort, runRaftq, startReadyNode } from "../helpers/node_process.ts";

const raftq = (url: string, ...args: string[]) => runRaftq([...args, "--url", url]);

Deno.test("client: enqueue, claim, ack, nack, status and queues against a node", async () => {
  const node = await startReadyNode();
  try {
    const u = node.url;
    const e = await raftq(
      u,
      "enqueue",
      "--queue",
      "cli",
      "--payload",
      '{"n":1}',
      "--priority",
      "5",
    );
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /^\d+-0 ready$/);
    const id = e.stdout.split(" ")[0];
    const c = await raftq(u, "claim", "--queue", "cli", "--json");
    assert.equal(c.code, 0, c.stderr);
    const job = JSON.parse(c.stdout).jobs[0];
    assert.equal(job.id, id);
    assert.deepEqual(job.payload, { n: 1 });
    const a = await raftq(u, "ack", id, "--lease", job.lease, "--result", '{"ok":true}');
    assert.equal(a.stdout, `${id} done`);
    const again = await raftq(u, "nack", id, "--lease", "12345");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^raftq: lease_mismatch: /);
    const s = await raftq(u, "status");
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /ID\s+URL\s+ROLE\s+VOTER\s+MATCH\s+LAG\s+REACHABLE/);
    assert.match(s.stdout, /leader\s+true/);
    const p = await raftq(u, "pause", "cli");
    assert.equal(p.stdout, "cli paused");
    const q = await raftq(u, "queues");
    assert.match(
      q.stdout,
      /^QUEUE\s+READY\s+DELAYED\s+WAITING\s+LEASED\s+DONE\s+DEAD\s+CANCELLED\s+EXPIRED\s+PAUSED\ncli\s+0\s+0\s+0\s+0\s+1\s+0\s+0\s+0\s+yes$/m,
    );
    const after = await raftq(u, "queues", "--cursor", "cli", "--limit", "5");
    assert.equal(after.stdout.trim().split("\n").length, 1, "no queue after cli: the header alone");
    assert.equal((await raftq(u, "queues", "--limit", "0")).code, 1, "limit 0 is refused");
    assert.equal((await raftq(u, "resume", "cli")).stdout, "cli resumed");
    assert.equal((await raftq(u, "pause")).code, 2, "pause needs a queue");
    const set = await raftq(
      u,
      "schedules",
      "set",
      "nightly",
      "--queue",
      "cli",
      "--cron",
      "0 3 * * *",
      "--tz",
      "Europe/Berlin",
    );
    assert.equal(set.code, 0, set.stderr);
    assert.match(
      set.stdout,
      /^nightly {2}cli {2}cron "0 3 \* \* \*" Europe\/Berlin {2}next 20\d\d-/,
    );
    assert.match((await raftq(u, "schedules", "list")).stdout, /^nightly /);
    const bad = await raftq(u, "schedules", "set", "x", "--queue", "cli", "--cron", "61 * * * *");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^raftq: invalid_request: cron is not valid/);
    assert.equal((await raftq(u, "schedules", "delete", "nightly")).stdout, "nightly deleted");
    assert.equal((await raftq(u, "schedules", "list")).stdout, "no schedules");
    const empty = await raftq(u, "claim", "--queue", "cli");
    assert.equal(empty.stdout, "no job ready");
    await raftq(u, "enqueue", "--queue", "cli", "--payload", "2");
    const jobs = await raftq(u, "jobs", "--queue", "cli", "--limit", "1");
    assert.match(
      jobs.stdout,
      /^ID\s+STATE\s+GROUP\s+ATTEMPTS\s+PRIORITY\s+CREATED\s+LAST ERROR\n\S+\s+ready\s+-\s+0\/5/,
    );
    const cursor = /--cursor (\d+)/.exec(jobs.stdout)?.[1];
    assert.ok(cursor, jobs.stdout);
    const next = await raftq(u, "jobs", "--queue", "cli", "--cursor", cursor, "--state", "done");
    assert.match(next.stdout, new RegExp(`^${id}\\s+done\\s+-\\s+1/5`, "m"));
    await raftq(u, "enqueue", "--queue", "cli", "--payload", "3", "--group", "tenant-a");
    const grouped = await raftq(u, "jobs", "--queue", "cli", "--group", "tenant-a");
    assert.match(grouped.stdout, /\n\S+\s+ready\s+tenant-a\s+0\/5/);
    assert.equal(grouped.stdout.split("\n").length, 2, "only the group's job");
    await call(`${u}/v1/queues/cli/config`, "PUT", { groupConcurrency: 1, maxDepth: 100 });
    const one = await raftq(u, "queue", "cli");
    assert.match(
      one.stdout,
      /^queue cli {2}running\nready 2 {2}delayed 0 {2}waiting 0 {2}leased 0 {2}done 1 /,
    );
    assert.match(one.stdout, /\nlimits: groupConcurrency 1, maxDepth 100\n/);
    const groups = await raftq(u, "groups", "--queue", "cli");
    assert.match(groups.stdout, /^GROUP\s+READY\s+LEASED\ntenant-a\s+1\s+0$/);
    const events = await raftq(u, "events", "--queue", "cli", "--from", "0", "--limit", "2");
    assert.equal(events.code, 0, events.stderr);
    assert.match(
      events.stdout,
      /^\d+:0 {2}enqueued {2}\S+ {2}ready {2}attempt 0\n\d+:0 {2}claimed /,
    );
    // A payload from standard input (`--payload -`), read whole over many chunks, kept exactly.
    const piped = `{ "rows": ${
      JSON.stringify(Array.from({ length: 20_000 }, (_, k) => `r${k}`))
    } }`;
    const fromStdin = await runRaftq(
      ["enqueue", "--queue", "stdin", "--payload", "-", "--url", u],
      {
        stdin: piped,
      },
    );
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    const stored = await fetch(`${u}/v1/jobs/${fromStdin.stdout.split(" ")[0]}`);
    const text = await stored.text();
    assert.ok(text.includes(`"payload":${piped}`), "the payload's text as it was piped");
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true });
  }
});

Deno.test("client: an unreachable node is exit 1 with one line; bad flags are exit 2", async () => {
  const down = `http://127.0.0.1:${freePort()}`;
  const r = await raftq(down, "status");
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split("\n").length, 1);
  assert.match(r.stderr, /^raftq: cannot reach http:\/\/127\.0\.0\.1:\d+/);
  const bad = await raftq(down, "enqueue", "--payload", "1");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /enqueue needs --queue/);
  const badJson = await raftq(down, "enqueue", "--queue", "q", "--payload", "{nope");
  assert.equal(badJson.code, 2);
  assert.match(badJson.stderr, /--payload is not valid JSON/);
});
