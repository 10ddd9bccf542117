// Servers' own histograms, read from /metrics around a row: log fsyncs, a write's stages.

import { writeStages } from "../../src/node/write_trace.ts";

/** The histogram each system keeps of its log's fdatasync calls. */
export const walFsyncMetric = {
  raftq: "raftq_wal_fsync_seconds",
  etcd: "etcd_disk_wal_fsync_duration_seconds",
} as const;

/** raftq's sampled write, from its proposal to each of writeStages (src/node/write_trace.ts). */
export const writeStageSeries: readonly Series[] = writeStages.map((stage) => ({
  name: "raftq_write_stage_seconds",
  labels: `{stage="${stage}"}`,
}));

/** One series of a histogram: its name and its labels as /metrics writes them (`{k="v"}`). */
export interface Series {
  name: string;
  labels?: string;
}

/** A series' running totals (or their growth over a row), summed over servers. */
export interface Totals {
  count: number;
  seconds: number;
}

/** What a row cost the disk: fsyncs (all servers) per request, and their mean duration. */
export interface WalFsyncs {
  perRequest: number;
  meanMs: number;
}

/** A Prometheus text's samples by series (`name{labels}`), read once. */
export function samplesOf(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const v = Number(line.slice(space + 1));
    if (space > 0 && Number.isFinite(v)) out.set(line.slice(0, space), v);
  }
  return out;
}

function totalsIn(samples: Map<string, number>, s: Series): Totals {
  const labels = s.labels ?? "";
  return {
    count: samples.get(`${s.name}_count${labels}`) ?? 0,
    seconds: samples.get(`${s.name}_sum${labels}`) ?? 0,
  };
}

/** `<name>_count` and `<name>_sum` of one series in a Prometheus text (0 when absent). */
export function totalsOf(text: string, series: Series): Totals {
  return totalsIn(samplesOf(text), series);
}

/** Each series' totals over every server at `urls` now (one that does not answer counts 0). */
async function read(urls: readonly string[], series: readonly Series[]): Promise<Totals[]> {
  const scraped = await Promise.all(urls.map(async (url) => {
    try {
      return samplesOf(await (await fetch(`${url}/metrics`)).text());
    } catch {
      return new Map<string, number>();
    }
  }));
  return series.map((s) =>
    scraped.map((samples) => totalsIn(samples, s)).reduce((a, b) => ({
      count: a.count + b.count,
      seconds: a.seconds + b.seconds,
    }), { count: 0, seconds: 0 })
  );
}

/** Runs `work` and answers how much each series grew over it, on all of `urls` together. */
export async function withHistograms<T>(
  urls: readonly string[],
  series: readonly Series[],
  work: () => Promise<T>,
): Promise<{ result: T; grown: Totals[] }> {
  const before = await read(urls, series);
  const result = await work();
  const after = await read(urls, series);
  const grown = after.map((a, i) => ({
    count: a.count - before[i].count,
    seconds: a.seconds - before[i].seconds,
  }));
  return { result, grown };
}

/** The mean of what a series grew by, in milliseconds (0 with no observation). */
export function meanMs(t: Totals): number {
  return t.count > 0 ? (1000 * t.seconds) / t.count : 0;
}

/** A row's fsyncs from the growth of the fsync histogram over `requests`. */
export function walFsyncsOf(t: Totals, requests: number): WalFsyncs {
  return { perRequest: t.count / Math.max(1, requests), meanMs: meanMs(t) };
}
