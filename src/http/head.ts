// Parses an HTTP/1.1 request head (request line and header fields) and decides its framing.

/** The most bytes a request line and its header fields may take, as node:http allows. */
export const maxHeadBytes = 16 * 1024;
/** The most header fields a request may carry. */
export const maxHeaderCount = 100;

/** A request the edge refuses before any route sees it: the status, and why. */
export class HttpRefusal extends Error {
  constructor(readonly status: 400 | 408 | 431 | 501, message: string) {
    super(message);
  }
}

export interface RequestHead {
  method: string;
  /** The request target as sent: origin form (`/path?query`) or absolute form. */
  target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minorVersion: 0 | 1;
  /** Field names in lower case; a repeated field's values joined with ", ". */
  headers: Record<string, string>;
  /** Bytes of the head, its blank line included. */
  headBytes: number;
  /** The body's framing: a length (0 for none), or chunked. */
  body: number | "chunked";
  keepAlive: boolean;
  expectContinue: boolean;
  /** A `GET` asking to switch protocols (the peer link's WebSocket). */
  upgrade: boolean;
}

// Control characters are what these patterns refuse.
// deno-lint-ignore no-control-regex
const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s\x00-\x1f\x7f]+) HTTP\/1\.([01])$/;
const fieldName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// deno-lint-ignore no-control-regex
const badValue = /[\x00-\x08\x0a-\x1f\x7f]/;
const decimal = /^\d{1,15}$/;
const decoder = new TextDecoder();

/**
 * Where the head ends in `bytes` (the index just past its blank line), or -1 while it has not
 * all arrived. `from` is where the previous search stopped.
 */
export function findHeadEnd(bytes: Uint8Array, from: number): number {
  let i = bytes.indexOf(10, Math.max(0, from - 3));
  while (i !== -1) {
    if (bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
    i = bytes.indexOf(10, i + 1);
  }
  return -1;
}

/** Parses the head that ends at `end` (from findHeadEnd); throws HttpRefusal for a bad one. */
export function parseHead(bytes: Uint8Array, end: number): RequestHead {
  const lines = decoder.decode(bytes.subarray(0, end - 4)).split("\r\n");
  const line = requestLine.exec(lines[0]);
  if (!line) throw new HttpRefusal(400, "Malformed HTTP (request line)");
  if (lines.length - 1 > maxHeaderCount) {
    throw new HttpRefusal(431, `Malformed HTTP (more than ${maxHeaderCount} header fields)`);
  }
  const headers = parseFields(lines);
  const minorVersion = line[3] === "1" ? 1 : 0;
  const connection = headers["connection"]?.toLowerCase() ?? "";
  return {
    method: line[1],
    target: line[2],
    minorVersion,
    headers,
    headBytes: end,
    body: framing(headers, minorVersion),
    keepAlive: minorVersion === 1
      ? !connection.includes("close")
      : connection.includes("keep-alive"),
    expectContinue: minorVersion === 1 && headers["expect"]?.toLowerCase() === "100-continue",
    upgrade: line[1] === "GET" && headers["upgrade"] !== undefined &&
      connection.includes("upgrade"),
  };
}

function parseFields(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const field = lines[i];
    const colon = field.indexOf(":");
    const name = colon > 0 ? field.slice(0, colon) : "";
    if (!fieldName.test(name)) throw new HttpRefusal(400, "Malformed HTTP (header field)");
    const value = field.slice(colon + 1).trim();
    if (badValue.test(value)) throw new HttpRefusal(400, "Malformed HTTP (header value)");
    const key = name.toLowerCase();
    const before = headers[key];
    headers[key] = before === undefined ? value : `${before}, ${value}`;
  }
  return headers;
}

/**
 * The body's framing. A request with both a length and a transfer coding, or with lengths that
 * disagree, is refused: the two readings are how requests are smuggled past proxies.
 */
function framing(headers: Record<string, string>, minorVersion: 0 | 1): number | "chunked" {
  const coding = headers["transfer-encoding"];
  const length = headers["content-length"];
  if (coding !== undefined) {
    if (length !== undefined || minorVersion === 0) {
      throw new HttpRefusal(400, "Malformed HTTP (Transfer-Encoding with Content-Length)");
    }
    if (coding.toLowerCase() !== "chunked") {
      throw new HttpRefusal(501, "Malformed HTTP (only the chunked transfer coding is served)");
    }
    return "chunked";
  }
  if (length === undefined) return 0;
  const values = length.split(",").map((v) => v.trim());
  if (!values.every((v) => decimal.test(v) && v === values[0])) {
    throw new HttpRefusal(400, "Malformed HTTP (bad Content-Length)");
  }
  return Number(values[0]);
}
