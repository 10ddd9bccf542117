// A node socket as the edge's connection: TLS comes through node:tls, whose sockets take no-delay.

import type { Socket } from "node:net";

/** What the edge needs of a connection; Deno's TCP connections have it as they are. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}

/** Bytes received and not yet read past which the socket is paused. */
const bufferedBytes = 64 * 1024;

/**
 * A node socket (a TLS one) read and written as a Deno connection. Deno's own TLS connections
 * cannot turn Nagle's algorithm off, and a peer link's sends go out on the server's side of it
 * (see the README's Links): on such a socket a second small frame waits for the first's delayed
 * acknowledgement, 40 ms. node:tls's sockets can.
 */
export class SocketConn implements ByteConn {
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > bufferedBytes) socket.pause();
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end); // a reset ends reads; writes reject on their own
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const first = this.#chunks[0];
    const n = Math.min(first.length, p.length);
    p.set(first.subarray(0, n));
    if (n === first.length) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    if (this.#buffered <= bufferedBytes && this.socket.isPaused()) this.socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("socket closed"));
    return new Promise((resolve, reject) => {
      this.socket.write(p, (err) => {
        if (err) reject(new Deno.errors.BrokenPipe(err.message));
        else resolve(p.length);
      });
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }

  close(): void {
    this.socket.destroy();
  }

  setNoDelay(noDelay = true): void {
    this.socket.setNoDelay(noDelay);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
