// Users' JSON (payloads, results) carried as its exact text: stored and returned byte for byte.

/**
 * A JSON value kept as the text the client sent. Never parsed into objects on the server, so a
 * key named `__proto__` or `constructor`, a 20-digit number or a deep nesting is the user's data
 * and nothing else: it reaches SQLite and comes back exactly as it was written.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * Serializes a response built by the server (a job view, a claim answer: plain JSON values and
 * RawJson): the server's own values through JSON.stringify, RawJson text as it is. Undefined fields are left out, as JSON.stringify
 * does. Recursion follows the server's structures only; user data is never walked.
 */
export function stringifyWithRaw(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? "null" : stringifyWithRaw(v))).join(",")}]`;
  }
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${stringifyWithRaw(v)}`);
  }
  return `{${parts.join(",")}}`;
}
