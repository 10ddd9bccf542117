// A closed-loop HTTP load generator: N concurrent workers for a fixed time, latencies recorded.

export interface LoadResult {
  concurrency: number;
  requests: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `concurrency` loops of `one()` for `durationMs` (bounded in count and time). */
export async function runLoad(
  concurrency: number,
  durationMs: number,
  one: (worker: number, n: number) => Promise<boolean>,
  maxRequests = 5_000_000,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    let n = 0;
    while (performance.now() < end && issued < maxRequests) {
      issued++;
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await one(worker, n++);
      } catch {
        ok = false;
      }
      if (ok) latencies.push(performance.now() - t0);
      else errors++;
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies.length
      ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]
      : NaN;
  return {
    concurrency,
    requests: latencies.length,
    errors,
    perSecond: latencies.length / seconds,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
  };
}

/** GETs and reports whether the answer was 200; reads the body fully. */
export async function getOk(url: string): Promise<boolean> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status === 200;
}

/** POSTs JSON and reports whether the status was the expected one; reads the body fully. */
export async function postJson(
  url: string,
  body: unknown,
  expect = [200, 201],
): Promise<unknown | null> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const parsed = await res.json().catch(() => null);
  return expect.includes(res.status) ? parsed : null;
}

/** A count or rate as the tables print it: rounded, with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
