// Runs image steps, backup copies and integrity checks on worker threads: the loop never waits.

import { workerFromSource } from "./source_worker.ts";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import {
  captureImage,
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
  /** Verifies the received file `part` against its trailer's facts (cutting it), then installs it. */
  install(
    dbPath: string,
    part: string,
    expected: Expected,
    index: number,
    finish: Statement[],
    done: Done<void>,
  ): void;
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
const digest = (path, bytes) => fileSha256(path, bytes, createHash);
self.onmessage = (e) => {
  const { op, dbPath, args } = e.data;
  try {
    const db = new DatabaseSync(dbPath, { readOnly: op === "copy" || op === "check" });
    let result;
    try {
      db.exec("PRAGMA busy_timeout = 30000");
      if (op === "check") {
        result = db.prepare("PRAGMA quick_check").all();
      } else if (op === "copy") {
        db.prepare("VACUUM INTO ?").run(args.dest);
      } else if (op === "capture") {
        result = captureImage(db, args.dest, args.tables, args.version, digest);
      } else {
        verifyImage(args.part, args.expected, digest);
        installImage(db, args.part, args.tables, args.expected.version, args.index, args.finish);
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

function runOnWorker<T>(op: string, dbPath: string, args: unknown, done: Done<T>): void {
  const worker = workerFromSource(workerSource);
  const finish = (error: Error | null, value?: T) => {
    worker.terminate();
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
  install(dbPath, part, expected, index, finish, done) {
    runOnWorker("install", dbPath, { part, tables: stateTables, expected, index, finish }, done);
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
  install(dbPath, part, expected, index, finish, done) {
    inline(dbPath, done, (db) => {
      verifyImage(part, expected, digest);
      installImage(db, part, stateTables, expected.version, index, finish);
    });
  },
};

/** Runs `step` on a connection of its own, then calls `done` with its outcome. */
function inline<T>(dbPath: string, done: Done<T>, step: (db: DatabaseSync) => T): void {
  let value: T;
  const db = new DatabaseSync(dbPath);
  try {
    value = step(db);
  } catch (err) {
    return done(err as Error);
  } finally {
    db.close();
  }
  done(null, value);
}
