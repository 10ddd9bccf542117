// libfaketime for node processes: an environment that sets a process's wall clock off by an offset.

/** Debian's libfaketime (package faketime; .ci/run installs it), multithreaded flavour. */
export const libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/** Environment for a child whose wall clock reads `offset` from the true time ("+1h", "-400ms"). */
export function fakeClock(offset: string): Record<string, string> {
  const m = /^([+-])(\d+)(ms|s|m|h)$/.exec(offset);
  if (!m) throw new Error(`bad offset ${offset}`);
  const seconds = Number(m[2]) *
    { ms: 0.001, s: 1, m: 60, h: 3600 }[m[3] as "ms" | "s" | "m" | "h"];
  // FAKETIME takes seconds; the monotonic clock gets the same constant shift, which no duration
  // measured with it can see.
  return { LD_PRELOAD: libfaketime, FAKETIME: `${m[1]}${seconds}` };
}
