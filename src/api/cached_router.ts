// Hono's trie router behind a bounded cache of matches: most requests repeat a path exactly.

import type { Result, Router } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";

/** Paths remembered; past it the oldest is forgotten (job ids make most read paths unique). */
export const cachedPaths = 1024;
/**
 * The longest path remembered (a queue's 128-character name fits twice): a head may carry a 16 KiB
 * path, and 1,024 of those would hold 16 MiB of keys. Longer ones are matched every time.
 */
export const longestCachedPath = 256;

/**
 * A Hono router that remembers its last matches by method and path. An enqueue's or a claim's
 * path is the same for every request to a queue; the trie's search and path split were 2–3% of
 * a leader's samples at 64 connections. Matches are not changed by Hono once made.
 */
export class CachedRouter<T> implements Router<T> {
  readonly name = "CachedRouter + TrieRouter";
  readonly #inner = new TrieRouter<T>();
  readonly #matches = new Map<string, Result<T>>();

  /** Matches remembered now. */
  get size(): number {
    return this.#matches.size;
  }

  add(method: string, path: string, handler: T): void {
    this.#matches.clear();
    this.#inner.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > longestCachedPath) return this.#inner.match(method, path);
    const key = `${method} ${path}`;
    const known = this.#matches.get(key);
    if (known) return known;
    const found = this.#inner.match(method, path);
    if (this.#matches.size >= cachedPaths) {
      this.#matches.delete(this.#matches.keys().next().value!);
    }
    this.#matches.set(key, found);
    return found;
  }
}
