// A small Prometheus registry: counters, gauges and histograms with labels, in text format 0.0.4.

type Labels = Record<string, string>;

/** The labels as Prometheus writes them, sorted by name: every request counts one or two. */
function labelKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = "";
  for (const name of names) key += `${key ? "," : ""}${name}="${escape(labels[name])}"`;
  return key;
}

const needsEscape = /[\\\n"]/;

function escape(v: string): string {
  if (!needsEscape.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

abstract class Metric {
  constructor(readonly name: string, readonly help: string, readonly type: string) {}
  abstract lines(): string[];
  header(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
  }
}

export class Counter extends Metric {
  #values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  lines(): string[] {
    return [...this.#values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ""} ${fmt(v)}`);
  }
}

/** A gauge whose values are read when scraped. */
export class Gauge extends Metric {
  constructor(name: string, help: string, readonly read: () => [Labels, number][]) {
    super(name, help, "gauge");
  }
  lines(): string[] {
    return this.read().map(([labels, v]) => {
      const k = labelKey(labels);
      return `${this.name}${k ? `{${k}}` : ""} ${fmt(v)}`;
    });
  }
}

/** A counter whose value lives elsewhere (a component's own tally), read when scraped. */
export class CounterFn extends Gauge {
  override readonly type = "counter";
  override header(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
  }
}

export class Histogram extends Metric {
  #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, readonly buckets: readonly number[]) {
    super(name, help, "histogram");
  }
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      const base = labelKey(s.labels);
      const withLe = (le: string) => `{${base ? `${base},` : ""}le="${le}"}`;
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket${withLe(fmt(b))} ${s.counts[i]}`)
      );
      out.push(`${this.name}_bucket${withLe("+Inf")} ${s.count}`);
      out.push(`${this.name}_sum${base ? `{${base}}` : ""} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${base ? `{${base}}` : ""} ${s.count}`);
    }
    return out;
  }
}

/** Seconds buckets from 0.1 ms to 10 s. */
export const latencyBuckets = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
] as const;

/** Seconds buckets for the event loop's delay: latencyBuckets from 1 ms, finer from 50 to 250 ms. */
export const loopDelayBuckets: readonly number[] = [
  ...latencyBuckets.filter((b) => b >= 0.001),
  0.075,
  0.15,
  0.2,
].sort((a, b) => a - b);

export const sizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096] as const;

export class Registry {
  #metrics: Metric[] = [];
  add<M extends Metric>(m: M): M {
    this.#metrics.push(m);
    return m;
  }
  /** The exposition text; a gauge whose reader throws is left out rather than failing the scrape. */
  render(): string {
    const out: string[] = [];
    for (const m of this.#metrics) {
      let lines: string[];
      try {
        lines = m.lines();
      } catch {
        continue;
      }
      // (not push(...lines): a gauge of every queue's states can outgrow the arguments a call
      // takes — 20,000 queues made every scrape fail with a stack overflow)
      for (const line of m.header()) out.push(line);
      for (const line of lines) out.push(line);
    }
    return out.join("\n") + "\n";
  }
}

/** The node's own metrics, filled in by the node loop, the state machine and the API. */
export class NodeMetrics {
  readonly registry = new Registry();

  /** A histogram of durations in seconds (latencyBuckets), registered. */
  #seconds(name: string, help: string): Histogram {
    return this.registry.add(new Histogram(name, help, latencyBuckets));
  }

  readonly leaderChanges = this.registry.add(
    new Counter("raftq_leader_changes_total", "Times this node saw the leader change"),
  );
  readonly proposals = this.registry.add(
    new Counter("raftq_proposals_total", "Commands proposed by this node as leader"),
  );
  readonly appendBatch = this.registry.add(
    new Histogram("raftq_append_batch_entries", "Log entries made durable per write", sizeBuckets),
  );
  readonly fsyncSeconds = this.#seconds(
    "raftq_fsync_seconds",
    "Duration of durable (fsynced) writes",
  );
  /** The fdatasync alone, as etcd's etcd_disk_wal_fsync_duration_seconds (the disk's part). */
  readonly walFsyncSeconds = this.#seconds(
    "raftq_wal_fsync_seconds",
    "Duration of each fdatasync of the write-ahead log (the disk's share of a durable write)",
  );
  readonly writeStageSeconds = this.#seconds(
    "raftq_write_stage_seconds",
    "From a proposal (one sampled at a time, on the leader) to each stage of its entry: sent to the followers, written, flushed here, committed, applied",
  );
  readonly applySeconds = this.#seconds(
    "raftq_apply_seconds",
    "Duration of applying one batch of entries",
  );
  readonly loopDelaySeconds = this.registry.add(
    new Histogram(
      "raftq_event_loop_delay_seconds",
      "How late each tick timer fired (every --heartbeat-ms): how long the event loop was held",
      loopDelayBuckets,
    ),
  );
  readonly requests = this.registry.add(
    new Counter("raftq_http_requests_total", "HTTP requests by route, method and status"),
  );
  readonly requestSeconds = this.#seconds(
    "raftq_http_request_duration_seconds",
    "HTTP request latency by route",
  );
}
