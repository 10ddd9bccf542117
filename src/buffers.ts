// Received bytes' memory, let go as soon as they are used instead of at V8's next collection.

/**
 * Frees the memory under `data` now, when `data` covers its whole buffer (so the buffer holds no
 * one else's bytes): a detached ArrayBuffer's store goes at once. V8 collects buffers outside its
 * heap only once they have grown by tens of MiB, which is what a node receiving an image held in
 * dead frames and chunks. The caller must know that no one else reads `data` (a frame it has
 * decoded, a chunk it copied and has written).
 */
export function releaseBuffer(data: ArrayBuffer | Uint8Array): void {
  const buffer = data instanceof ArrayBuffer ? data : data.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached) return;
  if (
    data instanceof Uint8Array && (data.byteOffset !== 0 || data.byteLength !== buffer.byteLength)
  ) {
    return;
  }
  buffer.transfer(0);
}
