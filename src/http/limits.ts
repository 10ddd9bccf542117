// The HTTP edge's bounds: how long a request may take to arrive, how many connections stay open.

/** Time bounds of a connection (documented in the README's limits). */
export const httpTimeouts: {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
  checkEveryMs: number;
} = {
  /** A request's head must arrive within this, from its first byte (a new connection's start). */
  headersMs: 10_000,
  /** A whole request (head and body) must arrive within this, from its first byte. */
  requestMs: 30_000,
  /** A keep-alive connection with no request in flight is closed after this. */
  keepAliveMs: 30_000,
  /** How often those bounds are checked. */
  checkEveryMs: 1_000,
};

/** File descriptors kept free for the database, peer dials and the runtime. */
const reservedDescriptors = 64;

/**
 * The connection cap: at most `wanted`, and at most what the open-files limit allows with room
 * for each connection's possible forward to the leader (two descriptors each), so an accept can
 * never fail for want of a descriptor.
 */
export function defaultMaxConnections(wanted: number, openFilesLimit: number | null): number {
  if (openFilesLimit === null) return wanted;
  return Math.max(16, Math.min(wanted, Math.floor((openFilesLimit - reservedDescriptors) / 2)));
}

/** The soft open-files limit of this process (Linux), or null where it cannot be read. */
export function openFilesLimit(): number | null {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    return m && m[1] !== "unlimited" ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
