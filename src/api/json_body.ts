// Parses request bodies: the request's own fields into values, users' JSON kept as exact text.

import { RawJson } from "../queue/json_text.ts";

/** How deep a body may nest (documented in the README's limits). */
export const jsonLimits = {
  /** Levels of arrays and objects inside a payload, a result or a progress value. */
  maxUserDepth: 100,
  /** Levels of the request's own structure, around users' JSON. */
  maxEnvelopeDepth: 8,
} as const;

/** A body that is not JSON (`overLimit` false), or nests past a limit; says where and why. */
export class JsonBodyError extends Error {
  constructor(message: string, readonly overLimit: boolean) {
    super(message);
  }
}

// deno-lint-ignore no-control-regex -- JSON forbids raw control characters in strings
const plainRun = /[^"\\\u0000-\u001f]*/y;
const numberToken = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const hex4 = /[0-9a-fA-F]{4}/y;
const simpleEscapes = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ / b f n r t
/**
 * One object of users' JSON whose members are all scalars and whose strings hold no escape, the
 * common payload, matched whole by one native regex rather than member by member. What it does
 * not match (nesting, an escape, an error) is read the long way, which says what is wrong.
 */
const flatObject = (() => {
  const space = "[ \\t\\n\\r]*";
  const str = '"[^"\\\\\\u0000-\\u001f]*"';
  const scalar = `(?:${str}|${numberToken.source}|true|false|null)`;
  const member = `${str}${space}:${space}${scalar}${space}`;
  return new RegExp(`\\{${space}(?:${member}(?:,${space}${member})*)?\\}`, "y");
})();
/** The literals by their first character. */
const scalarWords = new Map<number, readonly [string, boolean | null]>([
  [0x74, ["true", true]],
  [0x66, ["false", false]],
  [0x6e, ["null", null]],
]);

type Path = (string | number)[];

/**
 * Parses `text` as one JSON value (RFC 8259). Values at `opaque` paths ("payload",
 * "jobs.*.payload": keys, `*` for any array index) are validated and returned as RawJson holding
 * their exact text; everything else becomes plain values in objects without a prototype, so no
 * key a client sends can reach Object.prototype. Duplicate keys outside users' JSON are refused.
 * Recursion is bounded by the depth limits, never by the input.
 */
export function parseBody(text: string, opaque: readonly string[] = []): unknown {
  return new Parser(text, opaque.map((p) => p.split("."))).document();
}

class Parser {
  #pos = 0;
  readonly #path: Path = [];

  constructor(readonly text: string, readonly opaque: readonly string[][]) {}

  document(): unknown {
    const value = this.#value(0);
    this.#skipSpace();
    if (this.#pos < this.text.length) this.#fail("unexpected data after the JSON value");
    return value;
  }

  #fail(message: string, overLimit = false): never {
    throw new JsonBodyError(`${message} at position ${this.#pos}`, overLimit);
  }

  #skipSpace(): void {
    const t = this.text;
    let c = t.charCodeAt(this.#pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = t.charCodeAt(++this.#pos);
  }

  #isOpaque(): boolean {
    const path = this.#path;
    return this.opaque.some((p) =>
      p.length === path.length &&
      p.every((seg, i) => (seg === "*" ? typeof path[i] === "number" : seg === path[i]))
    );
  }

  #value(depth: number): unknown {
    this.#skipSpace();
    if (this.#isOpaque()) {
      const start = this.#pos;
      this.#skip(0);
      return new RawJson(this.text.slice(start, this.#pos));
    }
    switch (this.text.charCodeAt(this.#pos)) {
      case 0x7b: // {
        return this.#object(depth + 1);
      case 0x5b: // [
        return this.#array(depth + 1);
      case 0x22:
        return this.#string(true);
      default:
        return this.#scalar();
    }
  }

  #enter(depth: number): void {
    if (depth > jsonLimits.maxEnvelopeDepth) {
      this.#fail(`the body nests deeper than ${jsonLimits.maxEnvelopeDepth} levels`, true);
    }
    this.#pos++;
    this.#skipSpace();
  }

  #object(depth: number): Record<string, unknown> {
    this.#enter(depth);
    const obj: Record<string, unknown> = Object.create(null);
    if (this.#eat(0x7d)) return obj;
    for (;;) {
      const key = this.#key();
      if (Object.hasOwn(obj, key)) this.#fail(`duplicate field "${key.slice(0, 64)}"`);
      this.#path.push(key);
      obj[key] = this.#value(depth);
      this.#path.pop();
      if (this.#endOf(0x7d)) return obj;
    }
  }

  #array(depth: number): unknown[] {
    this.#enter(depth);
    const out: unknown[] = [];
    if (this.#eat(0x5d)) return out;
    for (;;) {
      this.#path.push(out.length);
      out.push(this.#value(depth));
      this.#path.pop();
      if (this.#endOf(0x5d)) return out;
    }
  }

  /** Reads `"key" :` and returns the key (decoded only when `decode`). */
  #key(decode = true): string {
    this.#skipSpace();
    if (this.text.charCodeAt(this.#pos) !== 0x22) this.#fail("expected a quoted field name");
    const key = this.#string(decode);
    this.#skipSpace();
    if (!this.#eat(0x3a)) this.#fail("expected ':' after a field name");
    return key;
  }

  /** After a member or element: true at the closing bracket, false after a comma. */
  #endOf(close: number): boolean {
    this.#skipSpace();
    if (this.#eat(close)) return true;
    if (this.#eat(0x2c)) return false;
    this.#fail(`expected ',' or '${String.fromCharCode(close)}'`);
  }

  #eat(c: number): boolean {
    if (this.text.charCodeAt(this.#pos) !== c) return false;
    this.#pos++;
    return true;
  }

  /** A string at the position, its quotes included: its value when `decode`, else "". */
  #string(decode: boolean): string {
    const start = this.#pos;
    const escaped = this.#scanString();
    if (!decode) return "";
    // (without an escape the text between the quotes is the value)
    return escaped
      ? JSON.parse(this.text.slice(start, this.#pos)) as string
      : this.text.slice(start + 1, this.#pos - 1);
  }

  #scalar(): unknown {
    const t = this.text;
    const word = scalarWords.get(t.charCodeAt(this.#pos));
    if (word && t.startsWith(word[0], this.#pos)) {
      this.#pos += word[0].length;
      return word[1];
    }
    numberToken.lastIndex = this.#pos;
    if (!numberToken.test(t) || numberToken.lastIndex === this.#pos) {
      this.#fail(
        this.#pos >= t.length ? "unexpected end of the body" : "unexpected character",
      );
    }
    const start = this.#pos;
    this.#pos = numberToken.lastIndex;
    return Number(t.slice(start, this.#pos));
  }

  /**
   * Moves past one string (its closing quote included), checking escapes and control chars;
   * whether it held an escape.
   */
  #scanString(): boolean {
    const t = this.text;
    let i = this.#pos + 1;
    let escaped = false;
    for (;;) {
      plainRun.lastIndex = i;
      plainRun.test(t);
      i = plainRun.lastIndex;
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      this.#pos = i;
      if (c !== 0x5c) {
        this.#fail(i >= t.length ? "unterminated string" : "control character in a string");
      }
      escaped = true;
      const e = t.charCodeAt(i + 1);
      if (simpleEscapes.has(e)) i += 2;
      else {
        hex4.lastIndex = i + 2;
        if (e !== 0x75 || !hex4.test(t)) this.#fail("invalid escape in a string");
        i += 6;
      }
    }
    this.#pos = i + 1;
    return escaped;
  }

  /** Validates one value of users' JSON without building it; `depth` counts its nesting. */
  #skip(depth: number): void {
    this.#skipSpace();
    const c = this.text.charCodeAt(this.#pos);
    if (c === 0x22) return void this.#scanString();
    if (c !== 0x7b && c !== 0x5b) return void this.#scalar();
    if (depth + 1 > jsonLimits.maxUserDepth) {
      this.#fail(
        `${
          pathName(this.#path)
        } nests deeper than ${jsonLimits.maxUserDepth} levels of arrays and objects`,
        true,
      );
    }
    if (c === 0x7b) {
      flatObject.lastIndex = this.#pos;
      if (flatObject.test(this.text)) return void (this.#pos = flatObject.lastIndex);
    }
    const close = c === 0x7b ? 0x7d : 0x5d;
    this.#pos++;
    this.#skipSpace();
    if (this.#eat(close)) return;
    do {
      if (close === 0x7d) this.#key(false);
      this.#skip(depth + 1);
    } while (!this.#endOf(close));
  }
}

/** `jobs[3].payload` for the path ["jobs", 3, "payload"]. */
export function pathName(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
