// The servers' own WAL fsync histograms, read from /metrics around a row: how many, how long.

/** The histogram each system keeps of its log's fdatasync calls. */
export const walFsyncMetric = {
  raftq: "raftq_wal_fsync_seconds",
  etcd: "etcd_disk_wal_fsync_duration_seconds",
} as const;

/** A histogram's running totals, summed over servers. */
export interface FsyncTotals {
  count: number;
  seconds: number;
}

/** What a row cost the disk: fsyncs (all servers) per request, and their mean duration. */
export interface WalFsyncs {
  perRequest: number;
  meanMs: number;
}

/**
 * `<name>_count` and `<name>_sum` from one Prometheus text (unlabelled series; 0 when absent).
 */
export function fsyncTotalsOf(text: string, name: string): FsyncTotals {
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    const v = line ? Number(line.slice(series.length + 1)) : 0;
    return Number.isFinite(v) ? v : 0;
  };
  return { count: value(`${name}_count`), seconds: value(`${name}_sum`) };
}

/** The totals of every server at `urls` now (a server that does not answer counts 0). */
async function totals(urls: readonly string[], name: string): Promise<FsyncTotals> {
  const each = await Promise.all(urls.map(async (url) => {
    try {
      const res = await fetch(`${url}/metrics`);
      return fsyncTotalsOf(await res.text(), name);
    } catch {
      return { count: 0, seconds: 0 };
    }
  }));
  return each.reduce((a, b) => ({ count: a.count + b.count, seconds: a.seconds + b.seconds }));
}

/**
 * Runs `work` (which answers how many requests it made) and reads the servers' fsync totals
 * before and after it.
 */
export async function withWalFsyncs<T extends { requests: number }>(
  urls: readonly string[],
  name: string,
  work: () => Promise<T>,
): Promise<{ result: T; fsyncs: WalFsyncs }> {
  const before = await totals(urls, name);
  const result = await work();
  const after = await totals(urls, name);
  const count = after.count - before.count;
  const seconds = after.seconds - before.seconds;
  return {
    result,
    fsyncs: {
      perRequest: count / Math.max(1, result.requests),
      meanMs: count > 0 ? (1000 * seconds) / count : 0,
    },
  };
}
