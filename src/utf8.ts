// Strict UTF-8 decoding: bytes checked by a native validator, then decoded by the lenient decoder.

import { isUtf8 } from "node:buffer";

/**
 * The fatal decoder takes its slow path for every input: 80 µs for a 147 KB batch body where the
 * check (3 µs) and the lenient decoder (14 µs) take 17, with the same text for valid UTF-8.
 */
const keepingBom = new TextDecoder("utf-8", { ignoreBOM: true });
const droppingBom = new TextDecoder("utf-8");

/**
 * `bytes` as text, or null when they are not UTF-8. A leading byte order mark is kept when
 * `keepBom` (entry data must keep it), else dropped, as TextDecoder does by default.
 */
export function decodeUtf8(bytes: Uint8Array, keepBom = false): string | null {
  if (!isUtf8(bytes)) return null;
  return (keepBom ? keepingBom : droppingBom).decode(bytes);
}
