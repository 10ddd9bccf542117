// Runs the snapshot image steps on a worker thread, so the event loop never waits on them.

import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import {
  captureImage,
  type ImageFacts,
  installImage,
  type Statement,
  stateTables,
  verifyImage,
} from "./state_image.ts";

/** Makes and installs images; `done` is called later, never before the call returns. */
export interface ImageSteps {
  capture(dbPath: string, dest: string, version: number, done: Done<ImageFacts>): void;
  /** Verifies the received file `part` (cutting its trailer), then installs it. */
  install(
    dbPath: string,
    part: string,
    version: number,
    index: number,
    finish: Statement[],
    done: Done<ImageFacts>,
  ): void;
}

export type Done<T> = (error: Error | null, value?: T) => void;

const workerSource = `
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
const captureImage = ${captureImage.toString()};
const verifyImage = ${verifyImage.toString()};
const installImage = ${installImage.toString()};
self.onmessage = (e) => {
  const { op, dbPath, args } = e.data;
  try {
    const db = new DatabaseSync(dbPath);
    let result;
    try {
      db.exec("PRAGMA busy_timeout = 30000");
      if (op === "capture") {
        result = captureImage(db, args.dest, args.tables, args.version, createHash);
      } else {
        result = verifyImage(args.part, createHash);
        installImage(db, args.part, args.tables, args.version, args.index, args.finish);
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

let workerUrl: string | null = null;

function runOnWorker<T>(op: string, dbPath: string, args: unknown, done: Done<T>): void {
  workerUrl ??= URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
  const worker = new Worker(workerUrl, { type: "module" });
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
  install(dbPath, part, version, index, finish, done) {
    runOnWorker("install", dbPath, { part, tables: stateTables, version, index, finish }, done);
  },
};

/** The simulator's: the same steps, run at once on this thread (the caller orders completion). */
export const inlineSteps: ImageSteps = {
  capture(dbPath, dest, version, done) {
    let facts: ImageFacts;
    const db = new DatabaseSync(dbPath);
    try {
      facts = captureImage(db, dest, stateTables, version, createHash);
    } catch (err) {
      return done(err as Error);
    } finally {
      db.close();
    }
    done(null, facts);
  },
  install(dbPath, part, version, index, finish, done) {
    let facts: ImageFacts;
    const db = new DatabaseSync(dbPath);
    try {
      facts = verifyImage(part, createHash);
      installImage(db, part, stateTables, version, index, finish);
    } catch (err) {
      return done(err as Error);
    } finally {
      db.close();
    }
    done(null, facts);
  },
};
