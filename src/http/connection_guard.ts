// The cap on open HTTP connections: idle ones make room for new ones, busy ones are never cut.

/** What the guard tells the metrics. */
export interface ConnectionStats {
  open: number;
  refused: number;
  evicted: number;
}

/**
 * Holds at most `max` connections. A connection says whether it is busy: while a request on it is
 * being answered (a long poll, a forwarded write) or once it carries a peer link; otherwise it is
 * idle — between keep-alive requests, or still sending its headers. At the cap, a new connection
 * evicts the longest-held idle one, so idle or slow-header connections can never lock clients out;
 * only when every connection is busy is the new one refused.
 */
export class ConnectionGuard<C extends { close(): void; readonly busy: boolean }> {
  /** Open connections in the order they came. */
  readonly #connections = new Set<C>();
  readonly stats: ConnectionStats = { open: 0, refused: 0, evicted: 0 };

  constructor(readonly max: number) {}

  /** A new connection: admitted (true), or refused (false; the caller answers and closes it). */
  admit(connection: C): boolean {
    if (this.#connections.size >= this.max && !this.#evictIdle()) {
      this.stats.refused++;
      return false;
    }
    this.#connections.add(connection);
    this.stats.open = this.#connections.size;
    return true;
  }

  /** The connection closed. */
  release(connection: C): void {
    this.#connections.delete(connection);
    this.stats.open = this.#connections.size;
  }

  /** Every open connection, oldest first. */
  connections(): IterableIterator<C> {
    return this.#connections.values();
  }

  #evictIdle(): boolean {
    for (const connection of this.#connections) {
      if (connection.busy) continue;
      this.release(connection);
      connection.close();
      this.stats.evicted++;
      return true;
    }
    return false;
  }
}
