// The binary layout of a Raft frame: a JSON header, then entry data and snapshot chunks raw.

import type { Message } from "../raft/mod.ts";
import { isUtf8 } from "node:buffer";
import { decodeUtf8 } from "../utf8.ts";

/**
 * Layout: byte 0 is the format (1); bytes 1-4 the header's length (u32, big-endian); then the
 * header, UTF-8 JSON `{"ms": [...], "b": [lengths]}`; then the blobs, back to back. In `ms`, an
 * entry's `data` and a snapshot's `chunk` are the index of their blob. Text frames escaped every
 * quote of each entry's JSON once per follower and carried chunks as base64; this carries both as
 * they are. (The header is plain JSON: no value left in it needs more.)
 */
const format = 1;
const headerAt = 5;

/** Most blobs one frame may reference (entries and chunks): bounds the decoder's work. */
export const maxBlobsPerFrame = 100_000;

const utf8 = new TextEncoder();

/**
 * The binary form of `ms`, or null when an entry's data is not well-formed UTF-16 (a lone
 * surrogate would not survive UTF-8): such a frame goes as text.
 */
export function encodeBinaryRaft(ms: readonly Message[]): Uint8Array | null {
  const blobs = new BlobWriter();
  const header: unknown[] = [];
  for (const m of ms) {
    if (m.type === "append" && m.entries.length > 0) {
      const entries = [];
      for (const e of m.entries) {
        if (typeof e.data === "string" && !e.data.isWellFormed()) return null;
        const data = typeof e.data === "string" ? blobs.addText(e.data) : blobs.addBytes(e.data);
        entries.push({ ...e, data });
      }
      header.push({ ...m, entries });
    } else if (m.type === "snapshot") {
      header.push({ ...m, chunk: blobs.addBytes(m.chunk) });
    } else {
      header.push(m);
    }
  }
  if (blobs.lengths.length > maxBlobsPerFrame) return null;
  const head = utf8.encode(JSON.stringify({ ms: header, b: blobs.lengths }));
  const out = new Uint8Array(headerAt + head.length + blobs.byteLength);
  out[0] = format;
  new DataView(out.buffer).setUint32(1, head.length);
  out.set(head, headerAt);
  blobs.copyTo(out, headerAt + head.length);
  return out;
}

/**
 * A frame's blobs in order: entry data and snapshot chunks as they are. A node holds its entries'
 * data as bytes (see EntryData); data held as text — rows an earlier version wrote, the empty data
 * of no-op and membership entries — is encoded here.
 */
class BlobWriter {
  readonly lengths: number[] = [];
  byteLength = 0;
  readonly #parts: Uint8Array[] = [];

  addText(text: string): number {
    return this.#add(utf8.encode(text));
  }

  addBytes(bytes: Uint8Array): number {
    return this.#add(bytes);
  }

  /** Copies the blobs into `out` from `at`. */
  copyTo(out: Uint8Array, at: number): void {
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
  }

  #add(part: Uint8Array): number {
    this.#parts.push(part);
    this.byteLength += part.length;
    return this.lengths.push(part.length) - 1;
  }
}

/**
 * The messages of a binary frame with their blobs put back, not yet validated (the caller runs
 * parseMessage on each); null when the layout is wrong: lengths that do not add up, a header that
 * is not JSON, a blob used twice, entry data that is not UTF-8. (An index out of range stays a
 * number, which parseMessage refuses.)
 */
export function decodeBinaryRaft(bytes: Uint8Array): unknown[] | null {
  if (bytes.length < headerAt || bytes[0] !== format) return null;
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (headerAt + headLength > bytes.length) return null;
  const headText = decodeUtf8(bytes.subarray(headerAt, headerAt + headLength), true);
  if (headText === null) return null;
  let head: { ms?: unknown; b?: unknown };
  try {
    head = JSON.parse(headText);
  } catch {
    return null;
  }
  const blobs = blobsOf(head?.b, bytes, headerAt + headLength);
  if (!blobs || !Array.isArray(head.ms)) return null;
  try {
    for (const m of head.ms) putBlobsBack(m, blobs);
  } catch {
    return null; // entry data that is not UTF-8, or a blob used twice
  }
  return head.ms;
}

/** The blobs `lengths` describes, from `from` to exactly the end of `bytes`; null if they do not. */
function blobsOf(lengths: unknown, bytes: Uint8Array, from: number): Uint8Array[] | null {
  if (!Array.isArray(lengths) || lengths.length > maxBlobsPerFrame) return null;
  const blobs: Uint8Array[] = [];
  let at = from;
  for (const n of lengths) {
    if (!Number.isSafeInteger(n) || n < 0 || at + n > bytes.length) return null;
    blobs.push(bytes.subarray(at, at + n));
    at += n;
  }
  return at === bytes.length ? blobs : null;
}

/**
 * Replaces blob indexes in an append's entries and a snapshot's chunk with their blobs. Each blob
 * is taken once: a header pointing many entries at one large blob would otherwise decode it again
 * for each (a few bytes of header, gigabytes of strings), so a second use fails the frame.
 */
function putBlobsBack(m: unknown, blobs: (Uint8Array | null)[]): void {
  if (typeof m !== "object" || m === null) return;
  const msg = m as { type?: unknown; entries?: unknown; chunk?: unknown };
  const take = (i: unknown): Uint8Array | undefined => {
    if (!Number.isSafeInteger(i) || (i as number) < 0 || (i as number) >= blobs.length) return;
    const b = blobs[i as number];
    if (b === null) throw new Error(`blob ${i} is used twice`);
    blobs[i as number] = null;
    return b;
  };
  if (msg.type === "append" && Array.isArray(msg.entries)) {
    for (const e of msg.entries) {
      const b = typeof e === "object" && e !== null
        ? take((e as { data?: unknown }).data)
        : undefined;
      if (!b) continue;
      if (!isUtf8(b)) throw new Error("entry data is not UTF-8");
      // Kept as bytes (see EntryData), copied: the frame's buffer goes once it is decoded.
      (e as { data: unknown }).data = b.slice();
    }
  } else if (msg.type === "snapshot") {
    const b = take(msg.chunk);
    if (b) msg.chunk = b.slice(); // a copy: the frame's buffer can go
  }
}
