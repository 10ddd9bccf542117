// superjson's text without superjson's walk, for values plain JSON carries as they are.

/** Deeper values are left to superjson (which bounds its own recursion). */
const maxDepth = 64;
/** Keys superjson will not encode (a prototype pollution risk, it says). */
const refusedKeys: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Whether `v` is a tree of what JSON carries unchanged: strings, booleans, null, finite numbers
 * other than -0, dense arrays and plain objects of those, no object reached twice. Anything else
 * (undefined, NaN, a Date, a class instance, a bigint, a shared object) gets superjson's
 * annotations.
 */
export function isPlainJson(v: unknown): boolean {
  return plain(v, 0, new Set());
}

function plain(v: unknown, depth: number, seen: Set<object>): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object":
      if (v === null) return true;
      if (depth >= maxDepth || seen.has(v)) return false;
      seen.add(v);
      return Array.isArray(v) ? plainArray(v, depth, seen) : plainObject(v, depth, seen);
    default:
      return false;
  }
}

function plainArray(v: unknown[], depth: number, seen: Set<object>): boolean {
  for (let i = 0; i < v.length; i++) {
    if (!(i in v) || !plain(v[i], depth + 1, seen)) return false;
  }
  return true;
}

function plainObject(v: object, depth: number, seen: Set<object>): boolean {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(v)) {
    if (refusedKeys.has(key)) return false; // superjson refuses these: left to it to say so
    if (!plain((v as Record<string, unknown>)[key], depth + 1, seen)) return false;
  }
  return true;
}

/**
 * The text `stringify` (a superjson instance's) makes of `value`, made without its walk when the
 * value is plain JSON: superjson then writes `{"json":value}` and nothing else, so the bytes are
 * the same (a test holds them equal). Encoding a 1,000-job command: about 190 µs against 790.
 */
export function superjsonText(value: unknown, stringify: (v: unknown) => string): string {
  return isPlainJson(value) ? JSON.stringify({ json: value }) : stringify(value);
}
