// Raw TCP connections to a test server: what is sent goes as is, what comes back is read as text.

const encoder = new TextEncoder();

/** Everything the connection receives until the server closes it, or `until` matches the text. */
export async function readUntil(conn: Deno.Conn, until?: RegExp): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null); // a reset ends it as a close does
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n));
    if (until?.test(text)) return text;
  }
}

/** A connection to 127.0.0.1:`port`, `send` written, and a promise of all it gets until closed. */
export async function rawConn(port: number, send?: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (send !== undefined) await conn.write(encoder.encode(send));
  let closed = false;
  const received = readUntil(conn).then((text) => {
    closed = true;
    return text;
  });
  return {
    conn,
    received,
    get closed() {
      return closed;
    },
    close() {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}
