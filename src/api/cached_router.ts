// Hono's trie router behind a bounded cache of matches: most requests repeat a path exactly.

import type { Result, Router } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";

/** Paths remembered; past it the oldest is forgotten (job ids make most read paths unique). */
const cachedPaths = 1024;

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
