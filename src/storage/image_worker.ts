// Runs image steps, backup copies and integrity checks on worker threads: the loop never waits.

import { workerFromSource } from "./source_worker.ts";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import {
  captureImage,
  completeImage,
  type Digest,
  fileSha256,
  type ImageFacts,
  installImage,
  type Statement,
  stateTables,
  verifyImage,
} from "./state_image.ts";

/** Makes and installs images; `done` is called later, never before the call returns. */
export interface ImageSteps {
  capture(dbPath: string, dest: string, version: number, done: Done<ImageFacts>): void;
  /**
   * Verifies the received file `part` against its trailer's facts (cutting it), then makes it a
   * whole database of the node at `dbPath` (completeImage), ready to be swapped in.
   */
  prepare(dbPath: string, part: string, install: ImageInstall, done: Done<void>): void;
  /** Copies the state tables of a prepared (checked) image into the database at `dbPath`. */
  install(dbPath: string, part: string, install: ImageInstall, done: Done<void>): void;
}

/** What an install checks and does besides the state tables. */
export interface ImageInstall {
  expected: Expected;
  /** The snapshot's index: the image's queue_state must hold it. */
  index: number;
  /** The log bookkeeping, run in the same transaction. */
  finish: Statement[];
  /** The node's own tables that start empty in the image (their rows are not copied). */
  emptyTables: string[];
}

export type Done<T> = (error: Error | null, value?: T) => void;

/** What a received image's trailer says it is, and the schema this node has. */
export interface Expected {
  bytes: number;
  sha256: string;
  version: number;
}

const workerSource = `
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
const fileSha256 = ${fileSha256.toString()};
const captureImage = ${captureImage.toString()};
const verifyImage = ${verifyImage.toString()};
const installImage = ${installImage.toString()};
const completeImage = ${completeImage.toString()};
const digest = (path, bytes) => fileSha256(path, bytes, createHash);
self.onmessage = (e) => {
  const { op, dbPath, args } = e.data;
  try {
    if (op === "prepare") verifyImage(args.part, args.expected, digest);
    const path = op === "prepare" ? args.part : dbPath;
    const db = new DatabaseSync(path, { readOnly: op === "copy" || op === "check" });
    let result;
    try {
      db.exec("PRAGMA busy_timeout = 30000");
      if (op === "check") {
        result = db.prepare("PRAGMA quick_check").all();
      } else if (op === "copy") {
        db.prepare("VACUUM INTO ?").run(args.dest);
      } else if (op === "capture") {
        result = captureImage(db, args.dest, args.tables, args.version, digest);
      } else if (op === "prepare") {
        const expected = { version: args.expected.version, index: args.index };
        completeImage(db, args.part, dbPath, args.tables, args.emptyTables, expected, args.finish);
      } else {
        installImage(db, args.part, args.tables, args.finish);
      }
    } finally {
      db.close();
    }
    self.postMessage({ ok: true, result });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err && err.message) || err) });
  }
};
`;

/** Steps running on workers, by the database they have open (see stepsUnderWay). */
const underWay = new Map<string, number>();

/** How many steps have a connection open on the database at `dbPath` now. */
export function stepsUnderWay(dbPath: string): number {
  return underWay.get(dbPath) ?? 0;
}

/**
 * Steps that hold one view of a database for as long as they read it whole (a capture, a
 * backup's copy, a quick_check: seconds on a large file), by database, and who is told.
 */
const longReads = new Map<string, number>();
const longReadWatchers = new Map<string, (reading: boolean) => void>();

/**
 * Tells `watcher` when the first long read of the database at `dbPath` begins (true) and when the
 * last ends (false); at once when one is under way. null stops telling.
 */
export function watchLongReads(dbPath: string, watcher: ((reading: boolean) => void) | null): void {
  if (watcher === null) return void longReadWatchers.delete(dbPath);
  longReadWatchers.set(dbPath, watcher);
  if (longReadUnderWay(dbPath)) watcher(true);
}

/** Whether a long read of the database at `dbPath` is under way. */
export function longReadUnderWay(dbPath: string): boolean {
  return (longReads.get(dbPath) ?? 0) > 0;
}

/** A long read of `dbPath` begins (runOnWorker's, and tests'). */
export function longReadBegins(dbPath: string): void {
  const n = (longReads.get(dbPath) ?? 0) + 1;
  longReads.set(dbPath, n);
  if (n === 1) longReadWatchers.get(dbPath)?.(true);
}

/** A long read of `dbPath` ended. */
export function longReadEnds(dbPath: string): void {
  const n = (longReads.get(dbPath) ?? 0) - 1;
  if (n > 0) return void longReads.set(dbPath, n);
  longReads.delete(dbPath);
  longReadWatchers.get(dbPath)?.(false);
}

const longReadOps = new Set(["capture", "copy", "check"]);

function runOnWorker<T>(op: string, dbPath: string, args: unknown, done: Done<T>): void {
  const worker = workerFromSource(workerSource);
  underWay.set(dbPath, stepsUnderWay(dbPath) + 1);
  const longRead = longReadOps.has(op);
  if (longRead) longReadBegins(dbPath);
  const finish = (error: Error | null, value?: T) => {
    worker.terminate();
    const left = stepsUnderWay(dbPath) - 1;
    if (left > 0) underWay.set(dbPath, left);
    else underWay.delete(dbPath);
    if (longRead) longReadEnds(dbPath);
    done(error, value);
  };
  worker.onmessage = (e) => {
    const reply = e.data as { ok: boolean; result?: T; error?: string };
    finish(reply.ok ? null : new Error(reply.error), reply.result);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    finish(new Error(e.message));
  };
  worker.postMessage({ op, dbPath, args });
}

/** Production: each step on a new worker thread with its own connection. */
export const workerSteps: ImageSteps = {
  capture(dbPath, dest, version, done) {
    runOnWorker("capture", dbPath, { dest, tables: stateTables, version }, done);
  },
  prepare(dbPath, part, install, done) {
    runOnWorker("prepare", dbPath, { part, tables: stateTables, ...install }, done);
  },
  install(dbPath, part, install, done) {
    runOnWorker("install", dbPath, { part, tables: stateTables, ...install }, done);
  },
};

/**
 * Copies the SQLite file at `src` whole to `dest` (a backup): VACUUM INTO on a read-only
 * connection reads one consistent view (WAL lets the node write on) and writes a compact copy.
 */
export function copyDatabase(src: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) =>
    runOnWorker(
      "copy",
      src,
      { dest },
      (error) =>
        error ? reject(new Error(`the copy of ${src} failed: ${error.message}`)) : resolve(),
    )
  );
}

/** PRAGMA quick_check's rows for the database at `path`, read on a worker thread. */
export function checkDatabase(path: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) =>
    runOnWorker<Record<string, unknown>[]>(
      "check",
      path,
      {},
      (error, rows) => error ? reject(error) : resolve(rows ?? []),
    )
  );
}

const digest: Digest = (path, bytes) => fileSha256(path, bytes, createHash);

/** The simulator's: the same steps, run at once on this thread (the caller orders completion). */
export const inlineSteps: ImageSteps = {
  capture(dbPath, dest, version, done) {
    inline(dbPath, done, (db) => captureImage(db, dest, stateTables, version, digest));
  },
  prepare(dbPath, part, { expected, index, finish, emptyTables }, done) {
    try {
      verifyImage(part, expected, digest);
    } catch (err) {
      return done(err as Error);
    }
    inline(part, done, (db) => {
      const facts = { version: expected.version, index };
      completeImage(db, part, dbPath, stateTables, emptyTables, facts, finish);
    });
  },
  install(dbPath, part, { finish }, done) {
    inline(dbPath, done, (db) => installImage(db, part, stateTables, finish));
  },
};

/** Runs `step` on a connection of its own, then calls `done` with its outcome. */
function inline<T>(path: string, done: Done<T>, step: (db: DatabaseSync) => T): void {
  let value: T;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    return done(err as Error);
  }
  try {
    value = step(db);
  } catch (err) {
    return done(err as Error);
  } finally {
    db.close();
  }
  done(null, value);
}
