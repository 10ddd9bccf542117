// The Prometheus text: one series per set of labels whatever their order, values escaped.

import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "../../src/metrics.ts";

Deno.test("metrics: labels sorted by name, values escaped, one series per set", () => {
  const r = new Registry();
  const c = r.add(new Counter("raftq_x_total", "x"));
  c.inc({ status: "200", route: "/v1/jobs/:id" });
  c.inc({ route: "/v1/jobs/:id", status: "200" }, 2);
  c.inc({ route: 'a\\b"c\nd', status: "500" });
  c.inc();
  const h = r.add(new Histogram("raftq_s", "s", [0.1]));
  h.observe(0.05, { route: "q" });
  assert.equal(c.get({ status: "200", route: "/v1/jobs/:id" }), 3);
  assert.deepEqual(r.render().split("\n"), [
    "# HELP raftq_x_total x",
    "# TYPE raftq_x_total counter",
    'raftq_x_total{route="/v1/jobs/:id",status="200"} 3',
    'raftq_x_total{route="a\\\\b\\"c\\nd",status="500"} 1',
    "raftq_x_total 1",
    "# HELP raftq_s s",
    "# TYPE raftq_s histogram",
    'raftq_s_bucket{route="q",le="0.1"} 1',
    'raftq_s_bucket{route="q",le="+Inf"} 1',
    'raftq_s_sum{route="q"} 0.05',
    'raftq_s_count{route="q"} 1',
    "",
  ]);
});

Deno.test("metrics: a gauge of 200,000 series renders (a queue's states times 25,000 queues)", () => {
  const r = new Registry();
  const series = 200_000;
  r.add(
    new Gauge(
      "raftq_queue_jobs",
      "jobs",
      () =>
        Array.from({ length: series }, (_, k) => [{ queue: `q${k >> 3}`, state: `s${k & 7}` }, k]),
    ),
  );
  const lines = r.render().trimEnd().split("\n");
  assert.equal(lines.length, series + 2, "every series, after the HELP and TYPE lines");
  assert.equal(lines.at(-1), `raftq_queue_jobs{queue="q24999",state="s7"} ${series - 1}`);
});
