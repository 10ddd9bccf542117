// A fault run: producers and consumers on random nodes while nodes are killed and restarted.

import assert from "node:assert/strict";
import { call, TestCluster, waitFor } from "../helpers/cluster.ts";

const seconds = Number(Deno.env.get("RAFTQ_FAULT_SECONDS") ?? 60);

function pick<T>(items: T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test(`cluster: ${seconds} s of kills and restarts lose no acknowledged job and complete none twice`, async () => {
  // A log compacted often and kept short, so restarted nodes catch up from the log or from images
  // made meanwhile, as it happens.
  const c = await TestCluster.start(3, undefined, [
    "--snapshot-every",
    "500",
    "--log-retain-bytes",
    String(1024 * 1024),
  ]);
  const acked = new Map<string, string>(); // job's key (its idempotency key, if any) -> job id
  const completions = new Map<string, Set<string>>(); // job id -> leases that acked it
  const counts = {
    enqueued: 0,
    enqueueFailed: 0,
    claimed: 0,
    acked: 0,
    ackRefused: 0,
    released: 0,
    pauses: 0,
    snapshots: 0,
    kills: 0,
    batches: 0,
    cancelled: 0,
  };
  const installs = (n: { stderr: string[] }) =>
    n.stderr.filter((l) => l.includes('"snapshot_installed"')).length;
  let installed = 0; // images installed by node processes since killed
  let running = true;
  const endAt = Date.now() + seconds * 1000;
  try {
    const producer = async (p: number) => {
      for (let k = 0; running; k++) {
        const key = `p${p}-${k}`;
        // Retry the same key until it is acknowledged: safe, the key deduplicates.
        while (running) {
          const n = pick(c.live());
          if (!n) break;
          try {
            const r = await call(`${n.url}/v1/queues/f/jobs`, "POST", {
              payload: { key },
              idempotencyKey: key,
            });
            if (r.status === 201 || r.status === 200) {
              const prev = acked.get(key);
              assert.ok(prev === undefined || prev === r.body.id, `key ${key} got two ids`);
              acked.set(key, r.body.id);
              counts.enqueued++;
              break;
            }
            counts.enqueueFailed++;
          } catch {
            counts.enqueueFailed++;
          }
          await sleep(50);
        }
      }
    };
    // Batches of plain jobs, which a node keeps as ready runs until claimed
    // (src/queue/ready_runs.ts); some of their jobs cancelled by id. A batch has no key to
    // deduplicate it, so a failed one is not sent again: only those acknowledged are checked.
    const batcher = async (b: number) => {
      for (let k = 0; running; k++) {
        const n = pick(c.live());
        const keys = Array.from({ length: 20 }, (_, i) => `b${b}-${k}-${i}`);
        try {
          const r = n && await call(`${n.url}/v1/queues/f/batch`, "POST", {
            jobs: keys.map((key) => ({ payload: { key } })),
          });
          if (r?.status === 201) {
            const ids: string[] = r.body.ids;
            ids.forEach((id, i) => acked.set(keys[i], id));
            counts.batches++;
            if (Math.random() < 0.3) {
              const x = await call(`${(pick(c.live()) ?? n).url}/v1/jobs/${pick(ids)}`, "DELETE");
              if (x.status === 200) counts.cancelled++;
            }
          } else counts.enqueueFailed++;
        } catch {
          counts.enqueueFailed++;
        }
        await sleep(100);
      }
    };
    const consumer = async (w: number) => {
      while (running) {
        const n = pick(c.live());
        if (!n) {
          await sleep(50);
          continue;
        }
        try {
          const r = await call(`${n.url}/v1/queues/f/claim`, "POST", {
            worker: `w${w}`,
            max: 5,
            leaseMs: 3000,
          });
          if (r.status !== 200 || r.body.jobs.length === 0) {
            await sleep(30);
            continue;
          }
          counts.claimed += r.body.jobs.length;
          for (const job of r.body.jobs) {
            const m = pick(c.live()) ?? n;
            if (Math.random() < 0.1) {
              // Some jobs are given back (a worker stopping): claimed again later, not lost.
              const g = await call(`${m.url}/v1/jobs/${job.id}/release`, "POST", {
                lease: job.lease,
              });
              if (g.status === 200) counts.released++;
              continue;
            }
            const a = await call(`${m.url}/v1/jobs/${job.id}/ack`, "POST", { lease: job.lease });
            if (a.status === 200) {
              counts.acked++;
              const set = completions.get(job.id) ?? new Set();
              set.add(job.lease);
              completions.set(job.id, set);
            } else counts.ackRefused++;
          }
        } catch {
          await sleep(30);
        }
      }
    };
    // The queue is paused and resumed now and then: claims hand out nothing meanwhile.
    const pauser = async () => {
      while (running) {
        await sleep(1000 + Math.random() * 2000);
        for (const action of ["pause", "resume"]) {
          const n = pick(c.live());
          const r = n && await call(`${n.url}/v1/queues/f/${action}`, "POST").catch(() => null);
          if (r?.status === 200) counts.pauses += action === "pause" ? 1 : 0;
          await sleep(300);
        }
      }
    };
    // An operator asks a node for a snapshot now and then (POST /admin/snapshot).
    const snapshotter = async () => {
      while (running) {
        await sleep(2000 + Math.random() * 3000);
        const n = pick(c.live());
        const r = n && await call(`${n.url}/admin/snapshot`, "POST").catch(() => null);
        if (r?.status === 200) counts.snapshots++;
      }
    };
    const chaos = async () => {
      while (Date.now() < endAt - 3000) {
        await sleep(1500 + Math.random() * 2000);
        const victim = pick(c.live());
        if (!victim || c.live().length < 3) continue;
        await c.kill(victim, Math.random() < 0.5 ? "SIGKILL" : "SIGTERM");
        installed += installs(victim);
        counts.kills++;
        // Every fourth stays down long enough to fall behind the kept log: it needs an image.
        await sleep(counts.kills % 4 === 0 ? 8000 : 500 + Math.random() * 2000);
        await c.restart(victim);
      }
    };
    const workers = [
      ...[0, 1, 2, 3].map(producer),
      batcher(0),
      ...[0, 1, 2].map(consumer),
      chaos(),
      pauser(),
      snapshotter(),
    ];
    await sleep(seconds * 1000);
    running = false;
    await Promise.all(workers);
    // Every node back, then everyone must agree.
    for (const n of c.nodes) if (!n.alive) await c.restart(n);
    await waitFor("the queue to be resumed", async () => {
      const r = await call(`${(await c.leader()).url}/v1/queues/f/resume`, "POST");
      return r.status === 200 && r.body.paused === false;
    }, 30_000);
    const applied = await c.converged(30_000);
    assert.ok(applied > 0);
    const leader = await c.leader();
    for (const [key, id] of acked) {
      const r = await call(`${leader.url}/v1/jobs/${id}`, "GET");
      assert.equal(r.status, 200, `acknowledged job ${id} (${key}) was lost`);
      assert.deepEqual(r.body.payload, { key });
    }
    for (const [id, leases] of completions) {
      assert.equal(leases.size, 1, `job ${id} was completed under ${leases.size} leases`);
      const r = await call(`${leader.url}/v1/jobs/${id}`, "GET");
      assert.equal(r.body.state, "done");
    }
    const views = await Promise.all(
      c.live().map((n) => call(`${n.url}/v1/queues?consistency=local`, "GET").then((r) => r.body)),
    );
    for (const v of views) assert.deepEqual(v, views[0], "replicas hold identical queues");
    assert.ok(
      counts.enqueued > 50 && counts.acked > 20 && counts.kills >= 3 && counts.pauses >= 2 &&
        counts.released > 0 && counts.snapshots >= 2 && counts.batches > 10,
      JSON.stringify(counts),
    );
    for (const n of c.nodes) installed += installs(n);
    console.log(
      `fault run: ${
        JSON.stringify(counts)
      }, applied index ${applied}, images installed ${installed}`,
    );
  } finally {
    running = false;
    await c.stop();
  }
});
