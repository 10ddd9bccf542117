// Copies of small request bodies, carved from shared slabs instead of an ArrayBuffer each.

/** A slab's size, and the largest body carved from one (larger ones get their own buffer). */
const slabBytes = 64 * 1024;
const largestCarvedBytes = 4096;

let slab = new Uint8Array(slabBytes);
let slabUsed = 0;

/**
 * A copy of `bytes` that outlives the buffer they were read into. A fresh ArrayBuffer for each
 * body was 1.7% of a lone node's samples under `wrk -c64`; a view of a slab is an object. A slab
 * is freed once no body cut from it is held (bodies are decoded and dropped within a request).
 */
export function copyBody(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.length > largestCarvedBytes) return bytes.slice() as Uint8Array<ArrayBuffer>;
  if (slabUsed + bytes.length > slabBytes) {
    slab = new Uint8Array(slabBytes);
    slabUsed = 0;
  }
  const copy = slab.subarray(slabUsed, slabUsed + bytes.length);
  copy.set(bytes);
  slabUsed += bytes.length;
  return copy;
}
