// CPU time of server processes, from /proc: what a benchmark row cost the servers, per request.

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux we run). */
const ticksPerSecond = 100;

/** User + system CPU milliseconds `pid` (all its threads) has used so far; 0 once it is gone. */
function processCpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [utime, stime] = [Number(fields[11]), Number(fields[12])];
    return ((utime + stime) * 1000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** CPU milliseconds used by all of `pids` so far. */
export function cpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
}

/**
 * Runs `work` and answers its result with the CPU milliseconds `pids` used meanwhile, in all and
 * each (`eachMs`, in the order of `pids`).
 */
export async function withCpu<T>(
  pids: readonly number[],
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: number; eachMs: number[] }> {
  const before = pids.map(processCpuMs);
  const result = await work();
  const eachMs = pids.map((pid, i) => processCpuMs(pid) - before[i]);
  return { result, cpuMs: eachMs.reduce((a, b) => a + b, 0), eachMs };
}
