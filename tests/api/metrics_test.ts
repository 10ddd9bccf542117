// /metrics in Prometheus text format, parsed: names, types, labels, histograms, values (in process).

import assert from "node:assert/strict";
import { startInProcessNode } from "../helpers/in_process.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const t = /^# TYPE (raftq_[a-z_]+) (counter|gauge|histogram)$/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
      continue;
    }
    if (line.startsWith("# HELP raftq_")) continue;
    const m = /^(raftq_[a-z_]+)(?:\{(.*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const part of (m[2] ?? "").match(/[a-z_]+="(?:[^"\\]|\\.)*"/g) ?? []) {
      const [k, v] = part.split(/=(.*)/s);
      labels[k] = JSON.parse(v);
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}

Deno.test("metrics: Prometheus text with the node, queue, request and storage figures", async () => {
  // On a file, so that its durable writes fsync the WAL and raftq_wal_fsync_seconds counts them.
  const dir = await Deno.makeTempDir({ prefix: "raftq-metrics-" });
  const node = await startInProcessNode({ dbPath: `${dir}/raftq.db` });
  try {
    const u = node.url;
    const { call, fetch } = node;
    for (let i = 0; i < 3; i++) await call(`${u}/v1/queues/m/jobs`, "POST", { payload: i });
    const c = await call(`${u}/v1/queues/m/claim`, "POST", { worker: "w" });
    await call(`${u}/v1/jobs/${c.body.jobs[0].id}/ack`, "POST", { lease: c.body.jobs[0].lease });
    await call(`${u}/v1/queues/m/jobs`, "POST", "{bad");
    const res = await fetch(`${u}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parse(await res.text());
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) =>
        s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
      )?.value;
    for (const [name, type] of types) {
      if (type === "counter") assert.match(name, /_total$/, `${name} is a counter named _total`);
    }
    assert.equal(one("raftq_role", { role: "leader" }), 1);
    assert.equal(one("raftq_role", { role: "follower" }), 0);
    assert.ok(one("raftq_term")! >= 2);
    assert.equal(one("raftq_commit_index"), one("raftq_applied_index"));
    assert.equal(one("raftq_image_index"), 0, "no image until one is asked for");
    assert.ok(one("raftq_leader_changes_total")! >= 1);
    assert.equal(one("raftq_proposals_total"), 5);
    assert.equal(one("raftq_jobs_enqueued_total"), 3);
    assert.equal(one("raftq_jobs_completed_total"), 1);
    assert.equal(one("raftq_queue_jobs", { queue: "m", state: "ready" }), 2);
    assert.equal(one("raftq_queue_jobs", { queue: "m", state: "done" }), 1);
    assert.equal(
      one("raftq_http_requests_total", {
        route: "/v1/queues/:queue/jobs",
        method: "POST",
        status: "201",
      }),
      3,
    );
    assert.equal(
      one("raftq_http_requests_total", {
        route: "/v1/queues/:queue/jobs",
        method: "POST",
        status: "400",
      }),
      1,
    );
    for (
      const h of [
        "raftq_fsync_seconds",
        "raftq_wal_fsync_seconds",
        "raftq_apply_seconds",
        "raftq_append_batch_entries",
        "raftq_http_request_duration_seconds",
      ]
    ) {
      assert.equal(types.get(h), "histogram", h);
      const buckets = samples.filter((s) =>
        s.name === `${h}_bucket` &&
        (h !== "raftq_http_request_duration_seconds" || s.labels.route === "/v1/queues/:queue/jobs")
      );
      assert.ok(buckets.length > 2, `${h} has buckets`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${h} buckets grow`);
      }
      assert.equal(buckets.at(-1)!.labels.le, "+Inf");
    }
    assert.ok(one("raftq_fsync_seconds_count")! >= 4, "every durable write is timed");
    assert.equal(
      one("raftq_wal_fsync_seconds_count"),
      one("raftq_fsync_seconds_count"),
      "each durable write is one fdatasync, timed on its own",
    );
    // One node: no followers to send to; the rest in order (it commits once its own flush ends).
    const stage = (s: string) => {
      const count = one("raftq_write_stage_seconds_count", { stage: s }) ?? 0;
      const sum = one("raftq_write_stage_seconds_sum", { stage: s }) ?? 0;
      return { count, meanSeconds: sum / Math.max(1, count) };
    };
    assert.equal(stage("sent").count, 0);
    const stages = ["written", "flushed", "committed", "applied"].map(stage);
    assert.ok(stages.every((s) => s.count >= 1), JSON.stringify(stages));
    assert.equal(stages[0].count, stages[3].count, "each followed write reached every stage");
    for (let i = 1; i < stages.length; i++) {
      assert.ok(stages[i].meanSeconds >= stages[i - 1].meanSeconds, JSON.stringify(stages));
    }
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
