// CRC-32 (IEEE) over strings and bytes, for log entries and snapshots.

const table = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Continues a CRC-32 over `bytes`; start with 0. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Continues a CRC-32 over the UTF-16 code units of `text` (low byte, then high byte). */
export function crc32Text(text: string, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    c = table[(c ^ u) & 0xff] ^ (c >>> 8);
    c = table[(c ^ (u >>> 8)) & 0xff] ^ (c >>> 8);
  }
  return ~c >>> 0;
}

/** CRC-32 over `parts`, each followed by a NUL separator (no encoding step on the hot path). */
export function crc32Strings(parts: readonly string[]): number {
  let crc = 0;
  for (const p of parts) crc = crc32Text(p + "\0", crc);
  return crc;
}
