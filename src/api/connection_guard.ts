// The cap on open HTTP connections: idle ones make room for new ones, busy ones are never cut.

import type { Socket } from "node:net";

/** What the guard tells the metrics. */
export interface ConnectionStats {
  open: number;
  refused: number;
  evicted: number;
}

/**
 * Holds at most `max` connections. A connection is busy while a request on it is being answered
 * (a long poll, a forwarded write) or once it carries a peer link; otherwise it is idle — between
 * keep-alive requests, or still sending its headers. At the cap, a new connection evicts the
 * longest-held idle one, so idle or slow-header connections can never lock clients out; only when
 * every connection is busy is the new one refused (`refuse`, then closed).
 */
export class ConnectionGuard {
  /** Open connections in the order they came, with how many requests each has in flight. */
  readonly #sockets = new Map<Socket, { busy: number }>();
  readonly stats: ConnectionStats = { open: 0, refused: 0, evicted: 0 };

  constructor(readonly max: number, readonly refuse: (socket: Socket) => void) {}

  /** A new connection: admitted (true), or refused and closed (false). */
  admit(socket: Socket): boolean {
    if (this.#sockets.size >= this.max && !this.#evictIdle()) {
      this.stats.refused++;
      this.refuse(socket);
      return false;
    }
    this.#sockets.set(socket, { busy: 0 });
    this.stats.open = this.#sockets.size;
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.stats.open = this.#sockets.size;
    });
    return true;
  }

  /** A request on `socket` started; the returned function marks it answered. */
  busy(socket: Socket): () => void {
    const entry = this.#sockets.get(socket);
    if (!entry) return () => {};
    entry.busy++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      entry.busy--;
    };
  }

  #evictIdle(): boolean {
    for (const [socket, entry] of this.#sockets) {
      if (entry.busy > 0) continue;
      this.#sockets.delete(socket);
      socket.destroy();
      this.stats.evicted++;
      return true;
    }
    return false;
  }
}
