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
    const row = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
    self.postMessage({ ok: true, walFrames: Number(row?.log ?? -1) });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err && err.message) || err) });
  }
};
`;

/**
 * The worker's answer; a checkpoint's says how many frames the WAL held when it began (what it
 * copied back, unless a reader held some), -1 when it could not tell.
 */
interface Reply {
  ok: boolean;
  error?: string;
  walFrames?: number;
}

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
  #inFlight: Promise<Reply> | null = null;
  #settle: (reply: Reply) => void = () => {};
  #op: "checkpoint" | "close" = "checkpoint";
  #failing = false;
  #stopped = false;
  /** Checkpoints completed (tests read it through Database.checkpointsOffLoop). */
  done = 0;

  constructor(
    readonly path: string,
    readonly onError: (message: string) => void,
    everyMs = 100,
  ) {
    this.#worker = workerFromSource(workerSource);
    this.#worker.onmessage = (e) => this.#answered(e.data as Reply);
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

  /**
   * Checkpoints now (after one in flight), and again until a pass finds at most `gapFrames` new
   * frames (written while the one before ran), `maxPasses` at most: once it resolves, the WAL is
   * copied back but for what a short pass let through, and a checkpoint on the node's own
   * connection has little left to copy.
   */
  async catchUp(gapFrames = 1024, maxPasses = 8): Promise<void> {
    let before = -1;
    for (let pass = 0; pass < maxPasses; pass++) {
      while (this.#inFlight) await this.#inFlight;
      if (this.#stopped) return;
      this.#dirty = false;
      const { ok, walFrames = -1 } = await this.#post("checkpoint");
      if (!ok || walFrames < 0 || (before >= 0 && walFrames - before <= gapFrames)) return;
      before = walFrames;
    }
  }

  #post(op: "checkpoint" | "close"): Promise<Reply> {
    this.#op = op;
    this.#inFlight = new Promise((resolve) => (this.#settle = resolve));
    this.#worker.postMessage({ op, path: this.path });
    return this.#inFlight;
  }

  #answered(reply: Reply): void {
    if (reply.ok && this.#op === "checkpoint") this.done++;
    if (!reply.ok && !this.#failing) this.onError(reply.error ?? "unknown error");
    this.#failing = !reply.ok;
    this.#inFlight = null;
    this.#settle(reply);
  }

  /**
   * Stops checkpointing: waits for one in flight, runs a last one first when asked (`drain`: what
   * the WAL holds is then copied back here, off the loop), closes the worker's connection, ends it.
   */
  async stop(drain = false): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    while (this.#inFlight) await this.#inFlight;
    if (drain) await this.#post("checkpoint");
    await this.#post("close");
    this.#worker.terminate();
  }

  /** Stops at once (a process that is ending): the worker and its connection go with it. */
  terminate(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#worker.terminate();
  }
}
