// A node Duplex over a Deno connection: `ws` runs a peer link on a connection the edge accepted.

import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { concatBytes } from "../buffers.ts";
import { writeAll } from "./answer.ts";
import type { ByteConn } from "./socket_conn.ts";

const readBytes = 64 * 1024;
const joinedBytes = 64 * 1024;

/** What `ws` calls on a socket beyond a Duplex's own methods. */
export class ConnDuplex extends Duplex {
  #reading = false;
  readonly #scratch = new Uint8Array(readBytes);

  constructor(readonly conn: ByteConn) {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    if (!this.#reading) void this.#pump();
  }

  /** Reads until the stream wants no more; each chunk a copy, the scratch reused. */
  async #pump(): Promise<void> {
    this.#reading = true;
    try {
      for (;;) {
        const n = await this.conn.read(this.#scratch);
        if (n === null) return void this.push(null);
        if (!this.push(Buffer.from(this.#scratch.subarray(0, n)))) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.#reading = false;
    }
  }

  override _write(chunk: Uint8Array, _encoding: string, done: (err?: Error | null) => void) {
    writeAll(this.conn, chunk).then(() => done(), done);
  }

  /**
   * Small frames (a header and its payload, corked by `ws`) go in one write; past `joinedBytes`
   * each chunk is written as it is, so an image's megabyte chunks are never copied.
   */
  override _writev(
    chunks: { chunk: Uint8Array }[],
    done: (err?: Error | null) => void,
  ): void {
    const size = chunks.reduce((n, c) => n + c.chunk.length, 0);
    const writes = size <= joinedBytes
      ? writeAll(this.conn, concatBytes(chunks.map((c) => c.chunk), size))
      : chunks.reduce((p, c) => p.then(() => writeAll(this.conn, c.chunk)), Promise.resolve());
    writes.then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.conn.closeWrite().then(() => done(), () => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    try {
      this.conn.close();
    } catch {
      // closed already
    }
    done(err);
  }

  setNoDelay(noDelay = true): this {
    this.conn.setNoDelay?.(noDelay);
    return this;
  }

  setTimeout(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }
}
