// A TCP proxy the test controls: forward (optionally each byte `delayMs` late, as a WAN link), cut
// (close every connection, refuse new ones), or blackhole (keep every connection open and pass
// nothing, as a host that vanished mid-route).

export class TcpProxy {
  readonly port: number;
  #listener: Deno.TcpListener;
  #conns = new Set<Deno.Conn>();
  #cut = false;
  #blackhole = false;

  /**
   * `delayMs`: each chunk is passed on this long after it arrived, in each direction.
   * `targetPort` may be set later (before the target exists, a connection is closed at once).
   */
  constructor(public targetPort: number, readonly delayMs = 0) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async #accept(): Promise<void> {
    for await (const inbound of this.#listener) {
      if (this.#cut) {
        inbound.close();
        continue;
      }
      if (this.#blackhole) {
        this.#conns.add(inbound);
        inbound.readable.pipeTo(new WritableStream()).catch(() => {});
        continue;
      }
      this.#pipe(inbound).catch(() => {});
    }
  }

  async #pipe(inbound: Deno.TcpConn): Promise<void> {
    let outbound: Deno.TcpConn;
    try {
      outbound = await Deno.connect({ hostname: "127.0.0.1", port: this.targetPort });
    } catch {
      inbound.close();
      return;
    }
    if (this.#cut) {
      // (cut while this connection was being dialled: cut() could not see it)
      for (const c of [inbound, outbound]) c.close();
      return;
    }
    // Deno's sockets leave Nagle on: a proxy that held small writes back for an ACK (delayed up to
    // 40 ms) would add latency no link has. The nodes' own sockets turn it off too.
    for (const c of [inbound, outbound]) c.setNoDelay(true);
    this.#conns.add(inbound);
    this.#conns.add(outbound);
    const close = () => {
      for (const c of [inbound, outbound]) {
        this.#conns.delete(c);
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    };
    await Promise.race([
      inbound.readable.pipeThrough(this.#gate()).pipeTo(outbound.writable).catch(() => {}),
      outbound.readable.pipeThrough(this.#gate()).pipeTo(inbound.writable).catch(() => {}),
    ]);
    close();
  }

  /**
   * Passes bytes on (each chunk `delayMs` after it arrived: timers of one delay fire in order, so
   * the bytes keep theirs), or drops them while the proxy is a blackhole.
   */
  #gate(): TransformStream<Uint8Array, Uint8Array> {
    let last: Promise<void> = Promise.resolve();
    return new TransformStream({
      transform: (chunk, ctl) => {
        if (this.#blackhole) return;
        if (this.delayMs === 0) return ctl.enqueue(chunk);
        last = new Promise((resolve) =>
          setTimeout(() => {
            try {
              ctl.enqueue(chunk);
            } catch {
              // the connection closed meanwhile
            }
            resolve();
          }, this.delayMs)
        );
      },
      flush: () => last,
    });
  }

  /** From now on nothing passes, in either direction, and nothing is closed. */
  blackhole(): void {
    this.#blackhole = true;
  }

  cut(): void {
    this.#cut = true;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
  }

  heal(): void {
    this.#cut = false;
    this.#blackhole = false;
  }

  close(): void {
    this.cut();
    this.#listener.close();
  }
}
