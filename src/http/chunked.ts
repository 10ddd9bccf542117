// Decodes a chunked request body as its bytes arrive, up to a limit.

import { HttpRefusal } from "./head.ts";

/** The longest chunk-size line (with extensions) and trailer section accepted. */
const maxSizeLineBytes = 1024;
const maxTrailerBytes = 16 * 1024;
const hexSize = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/;
const decoder = new TextDecoder();

type State = "size" | "data" | "data_end" | "trailer" | "done";

/**
 * One chunked body. `consume` takes the bytes received so far and returns how many it used;
 * the rest wait for more. Data past `maxBytes` is counted but not kept (`tooLarge`).
 */
export class ChunkedBody {
  readonly chunks: Uint8Array[] = [];
  size = 0;
  #state: State = "size";
  #remaining = 0;
  #trailerBytes = 0;

  constructor(readonly maxBytes: number) {}

  get done(): boolean {
    return this.#state === "done";
  }

  get tooLarge(): boolean {
    return this.size > this.maxBytes;
  }

  consume(bytes: Uint8Array): number {
    let at = 0;
    while (at < bytes.length && this.#state !== "done" && !this.tooLarge) {
      const used = this.#step(bytes.subarray(at));
      if (used === 0) break;
      at += used;
    }
    return at;
  }

  #step(bytes: Uint8Array): number {
    if (this.#state === "data") return this.#data(bytes);
    const lf = bytes.indexOf(10);
    const limit = this.#state === "trailer" ? maxTrailerBytes : maxSizeLineBytes;
    if (lf === -1) {
      if (bytes.length > limit) throw new HttpRefusal(400, "Malformed HTTP (chunk framing)");
      return 0;
    }
    if (bytes[lf - 1] !== 13) throw new HttpRefusal(400, "Malformed HTTP (chunk framing)");
    this.#line(decoder.decode(bytes.subarray(0, lf - 1)), lf + 1);
    return lf + 1;
  }

  #data(bytes: Uint8Array): number {
    const take = Math.min(this.#remaining, bytes.length);
    this.size += take;
    if (!this.tooLarge) this.chunks.push(bytes.slice(0, take));
    this.#remaining -= take;
    if (this.#remaining === 0) this.#state = "data_end";
    return take;
  }

  #line(line: string, lineBytes: number): void {
    if (this.#state === "data_end") {
      if (line !== "") throw new HttpRefusal(400, "Malformed HTTP (chunk framing)");
      this.#state = "size";
    } else if (this.#state === "size") {
      const m = hexSize.exec(line);
      if (!m) throw new HttpRefusal(400, "Malformed HTTP (chunk size)");
      this.#remaining = parseInt(m[1], 16);
      this.#state = this.#remaining === 0 ? "trailer" : "data";
    } else {
      // Trailer fields are read and dropped; the blank line ends the body.
      this.#trailerBytes += lineBytes;
      if (this.#trailerBytes > maxTrailerBytes) {
        throw new HttpRefusal(431, "Malformed HTTP (trailer section too large)");
      }
      if (line === "") this.#state = "done";
    }
  }
}
