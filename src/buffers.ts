// Received bytes: joined within a limit, and their memory let go as soon as they are used.

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

/** `chunks`, `size` bytes together, as one buffer. */
export function concatBytes(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/**
 * A stream's bytes as one buffer, or null once they pass `maxBytes` (the stream is cancelled
 * then): nothing a peer or a pipe sends is held past the limit.
 */
export async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}
