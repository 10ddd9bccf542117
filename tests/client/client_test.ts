// The client library against a node in process: typed methods, typed errors, retries, leaders.

import assert from "node:assert/strict";
import {
  CancelledError,
  Client,
  ConnectionError,
  InvalidRequestError,
  LeaseMismatchError,
  NotFoundError,
  OutcomeUnknownError,
  UnavailableError,
} from "../../src/client/mod.ts";
import { type InProcessNode, startInProcessNode } from "../helpers/in_process.ts";
import { startReadyNode, waitFor } from "../helpers/node_process.ts";
import { extractBackup } from "../../src/storage/backup_file.ts";
import { join } from "node:path";

async function withNode(fn: (node: InProcessNode, client: Client) => Promise<void>) {
  const node = await startInProcessNode();
  try {
    await fn(node, new Client({ urls: node.url, fetch: (u, init) => node.fetch(String(u), init) }));
  } finally {
    await node.stop();
  }
}

Deno.test("client: a method per queue route, with the API's answers", () =>
  withNode(async (_node, client) => {
    const e = await client.enqueue("mail", { to: "ada" }, { priority: 3 });
    assert.equal(e.state, "ready");
    const ids = await client.enqueueBatch("mail", [{ payload: 1 }, {
      payload: 2,
      delayMs: 60_000,
    }]);
    assert.equal(ids.length, 2);
    const [job] = await client.claim<{ to: string }>("mail", { worker: "w" });
    assert.deepEqual(job.payload, { to: "ada" });
    await client.progress(job.id, job.lease, { pct: 50 });
    assert.deepEqual((await client.getJob(job.id)).progress, { pct: 50 });
    const ext = await client.extend(job.id, job.lease, 60_000);
    assert.ok(ext.leaseExpiresAt > job.leaseExpiresAt - 1);
    assert.deepEqual(await client.ack(job.id, job.lease, { sent: true }), {
      id: job.id,
      state: "done",
    });
    const done = await client.waitJob(job.id);
    assert.deepEqual(done.result, { sent: true });
    const [next] = await client.claim("mail", { worker: "w" });
    assert.equal((await client.release(next.id, next.lease)).state, "ready");
    const [again] = await client.claim("mail", { worker: "w" });
    assert.equal(again.attempt, 1, "a release uses no attempt");
    assert.equal((await client.nack(again.id, again.lease, { final: true })).state, "dead");
    assert.equal((await client.deadLetters("mail")).jobs[0].id, again.id);
    assert.equal((await client.retryDead("mail", again.id)).state, "ready");
    assert.equal((await client.cancel(again.id)).state, "cancelled");
    const stats = await client.queues({ consistency: "local" });
    assert.deepEqual(stats.find((q) => q.name === "mail"), {
      name: "mail",
      paused: false,
      ready: 0,
      delayed: 1,
      leased: 0,
      done: 1,
      dead: 0,
      cancelled: 1,
      expired: 0,
      waiting: 0,
    });
    const config = { maxAttempts: 2, backoff: { type: "fixed" as const, baseMs: 100 } };
    assert.deepEqual(await client.configure("mail", config), config);
    assert.deepEqual((await client.queue("mail")).config, config);
    assert.deepEqual(await client.configure("mail", {}), {});
    assert.equal((await client.pause("mail")).paused, true);
    assert.deepEqual(await client.claim("mail", { worker: "w" }), []);
    assert.equal((await client.queue("mail")).paused, true);
    assert.equal((await client.resume("mail")).paused, false);
    const listed = await client.jobs("mail", { limit: 1 });
    assert.equal(listed.jobs.length, 1);
    assert.ok(listed.next);
    assert.equal(await client.purge("mail", "cancelled"), 1);
    assert.equal(await client.retryDeadLetters("mail"), 0);
    const sched = await client.setSchedule("nightly", { queue: "mail", cron: "0 3 * * *" });
    assert.equal(sched.catchUp, "none");
    assert.deepEqual((await client.schedules()).map((x) => x.id), ["nightly"]);
    await client.deleteSchedule("nightly");
    await assert.rejects(client.schedule("nightly"), NotFoundError);
    assert.equal((await client.status()).role, "leader");
    assert.match(await client.metrics(), /raftq_/);
  }));

Deno.test("client: enqueues carry an idempotency key unless told not to", () =>
  withNode(async (node, client) => {
    const sent: unknown[] = [];
    const spy = new Client({
      urls: node.url,
      fetch: (u, init) => (sent.push(JSON.parse(String(init?.body))), node.fetch(String(u), init)),
    });
    await spy.enqueue("k", 1);
    await spy.enqueue("k", 2, { idempotencyKey: "mine" });
    await spy.enqueue("k", 3, { idempotencyKey: null });
    const keys = sent.map((b) => (b as { idempotencyKey?: string }).idempotencyKey);
    assert.match(keys[0]!, /^[0-9a-f-]{36}$/);
    assert.deepEqual(keys.slice(1), ["mine", undefined]);
    const again = await client.enqueue("k", 4, { idempotencyKey: "mine" });
    assert.equal(again.deduplicated, true);
  }));

Deno.test("client: the API's error codes are classes", () =>
  withNode(async (_node, client) => {
    await assert.rejects(client.enqueue("bad name!", 1), InvalidRequestError);
    await assert.rejects(client.getJob("99999-0"), NotFoundError);
    await client.enqueue("e", 1);
    const [job] = await client.claim("e", { worker: "w" });
    await assert.rejects(client.ack(job.id, "1"), LeaseMismatchError);
    await client.cancel(job.id);
    const err = await client.extend(job.id, job.lease, 5000).catch((e) => e);
    assert.ok(err instanceof CancelledError);
    assert.equal(err.code, "cancelled");
    assert.equal(err.status, 409);
  }));

/** A fetch that answers from a script: each call takes the next answer. */
function scripted(answers: (Response | Error)[], seen: string[] = []): typeof fetch {
  return (input) => {
    seen.push(String(input));
    const next = answers.shift();
    if (!next) throw new Error("the script ran out");
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers });
const errorBody = (code: string) => ({ error: { code, message: code } });

Deno.test("client: no_leader is retried after Retry-After, across the nodes", async () => {
  const seen: string[] = [];
  const client = new Client({
    urls: ["http://a.test", "http://b.test"],
    fetch: scripted([
      json(503, errorBody("no_leader"), { "retry-after": "0.05" }),
      json(201, { id: "1-0", queue: "q", state: "ready" }),
    ], seen),
  });
  const started = Date.now();
  assert.equal((await client.enqueue("q", 1)).id, "1-0");
  assert.ok(Date.now() - started >= 45, "it waited as Retry-After said");
  assert.deepEqual(seen.map((u) => new URL(u).host), ["a.test", "b.test"]);
});

Deno.test("client: outcome_unknown is retried only when a retry is safe", async () => {
  const safe = new Client({
    urls: "http://a.test",
    fetch: scripted([new TypeError("connection reset"), json(200, { id: "1-0", state: "done" })]),
  });
  assert.equal((await safe.ack("1-0", "7")).state, "done");
  const unsafe = new Client({
    urls: "http://a.test",
    fetch: scripted([json(503, errorBody("outcome_unknown"), { "retry-after": "0" })]),
  });
  await assert.rejects(unsafe.transfer("n2"), OutcomeUnknownError);
});

Deno.test("client: a call gives up when its time runs out, or its signal aborts", async () => {
  const always503 = () =>
    Promise.resolve(json(503, errorBody("no_leader"), { "retry-after": "0" }));
  const client = new Client({ urls: "http://a.test", fetch: always503, retryForMs: 200 });
  const started = Date.now();
  await assert.rejects(client.enqueue("q", 1), UnavailableError);
  assert.ok(Date.now() - started < 2_000);
  const hang: typeof fetch = (_u, init) =>
    new Promise((_, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))
    );
  const hanging = new Client({ urls: "http://a.test", fetch: hang });
  const signal = AbortSignal.timeout(100);
  const err = await hanging.getJob("1-0", { signal }).catch((e) => e);
  assert.ok(err instanceof ConnectionError);
  assert.equal(err.code, "aborted");
});

Deno.test("client: follows the leader the answers name, when it is in its list", async () => {
  const seen: string[] = [];
  const statusBody = { leader: { id: "n2", url: "http://b.test/" } };
  const answers = [
    json(201, { id: "1-0", queue: "q", state: "ready" }, { "x-raftq-leader": "n2" }),
    json(200, statusBody),
    json(201, { id: "2-0", queue: "q", state: "ready" }, { "x-raftq-leader": "n2" }),
  ];
  const client = new Client({
    urls: ["http://a.test", "http://b.test"],
    fetch: scripted(answers, seen),
  });
  await client.enqueue("q", 1);
  // (the leader lookup runs beside the calls)
  await waitFor("the client to aim at b", () => client.http.target === "http://b.test");
  await client.enqueue("q", 2);
  assert.deepEqual(seen, [
    "http://a.test/v1/queues/q/jobs",
    "http://a.test/admin/status",
    "http://b.test/v1/queues/q/jobs",
  ]);
});

Deno.test("client: an unreachable node is skipped by later calls", async () => {
  const seen: string[] = [];
  const client = new Client({
    urls: ["http://a.test", "http://b.test"],
    fetch: scripted([
      new TypeError("connection refused"),
      json(200, { id: "1-0", state: "done" }),
      json(200, { id: "1-0", state: "done" }),
    ], seen),
  });
  await client.ack("1-0", "1");
  await client.ack("1-0", "1");
  assert.deepEqual(seen.map((u) => new URL(u).host), ["a.test", "b.test", "b.test"]);
});

Deno.test("client: backup streams a verifiable image from a real node; ready() says so", async () => {
  const node = await startReadyNode();
  const dir = await Deno.makeTempDir({ prefix: "raftq-client-backup-" });
  try {
    const client = new Client({ urls: node.url });
    assert.equal(await client.ready(), true);
    await client.enqueue("b", { kept: true });
    const { appliedIndex, body } = await client.backup();
    const file = join(dir, "b.backup");
    await Deno.writeFile(file, body);
    const meta = await extractBackup(file, join(dir, "image.db"));
    assert.equal(meta.appliedIndex, appliedIndex);
    assert.ok(appliedIndex >= 2);
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
