// WAL checkpoints on a worker thread of their own, so the node's loop never copies pages back.

import { workerFromSource } from "./source_worker.ts";

/**
 * The worker: one connection of its own, kept open, running PASSIVE checkpoints when asked (they
 * copy what the WAL holds into the database file and fsync it, never waiting on the node's
 * connection, which writes on meanwhile). Made from this source text, as image_worker.ts is.
 */
const workerSource = `
import { DatabaseSync } from "node:sqlite";
let db = null;
self.onmessage = (e) => {
  const { op, path } = e.data;
  try {
    if (op === "close") {
      db?.close();
      db = null;
      self.postMessage({ ok: true });
      return;
    }
    db ??= new DatabaseSync(path);
    db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
    self.postMessage({ ok: true });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err && err.message) || err) });
  }
};
`;

/**
 * Checkpoints the WAL of the database at `path` off the event loop, at most every `everyMs` while
 * there are new commits. The node's connection keeps SQLite's own automatic checkpoint as a
 * bound (see Database.checkpointOffLoop): if this falls behind, the WAL still cannot grow without
 * limit. A failed checkpoint is tried again later; the first of a run of failures is reported.
 */
export class Checkpointer {
  #worker: Worker;
  #timer: ReturnType<typeof setInterval>;
  #dirty = false;
  #inFlight: Promise<void> | null = null;
  #settle: () => void = () => {};
  #op: "checkpoint" | "close" = "checkpoint";
  #failing = false;
  /** Checkpoints completed (tests read it through Database.checkpointsOffLoop). */
  done = 0;

  constructor(
    readonly path: string,
    readonly onError: (message: string) => void,
    everyMs = 100,
  ) {
    this.#worker = workerFromSource(workerSource);
    this.#worker.onmessage = (e) => this.#answered(e.data as { ok: boolean; error?: string });
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#answered({ ok: false, error: e.message });
    };
    this.#timer = setInterval(() => this.#tick(), everyMs);
  }

  /** Something was committed: the next tick checkpoints. */
  markDirty(): void {
    this.#dirty = true;
  }

  #tick(): void {
    if (!this.#dirty || this.#inFlight) return;
    this.#dirty = false;
    this.#post("checkpoint");
  }

  #post(op: "checkpoint" | "close"): Promise<void> {
    this.#op = op;
    this.#inFlight = new Promise((resolve) => (this.#settle = resolve));
    this.#worker.postMessage({ op, path: this.path });
    return this.#inFlight;
  }

  #answered(reply: { ok: boolean; error?: string }): void {
    if (reply.ok && this.#op === "checkpoint") this.done++;
    if (!reply.ok && !this.#failing) this.onError(reply.error ?? "unknown error");
    this.#failing = !reply.ok;
    this.#inFlight = null;
    this.#settle();
  }

  /**
   * Stops checkpointing: waits for one in flight, runs a last one first when asked (`drain`: what
   * the WAL holds is then copied back here, off the loop), closes the worker's connection, ends it.
   */
  async stop(drain = false): Promise<void> {
    clearInterval(this.#timer);
    while (this.#inFlight) await this.#inFlight;
    if (drain) await this.#post("checkpoint");
    await this.#post("close");
    this.#worker.terminate();
  }

  /** Stops at once (a process that is ending): the worker and its connection go with it. */
  terminate(): void {
    clearInterval(this.#timer);
    this.#worker.terminate();
  }
}
