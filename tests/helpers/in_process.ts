// A one-node cluster in this process, on SQLite in memory, answered through app.request():
// route tests without a process, a port or a file.

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import type { Hono } from "hono";
import { createApp } from "../../src/api/app.ts";
import { eventsKey, Waiters } from "../../src/api/long_poll.ts";
import { defaultTuning, type NodeTuning } from "../../src/node/config.ts";
import { RaftNode } from "../../src/node/node.ts";
import { bootstrapInit } from "../../src/raft/mod.ts";
import { Database } from "../../src/storage/database.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { type call, waitFor } from "./node_process.ts";
import { checkAnswer } from "./spec_check.ts";

export interface InProcessNode {
  /** A base URL for the requests; nothing listens on it. */
  url: string;
  node: RaftNode;
  /** Its database (a test may damage a row, as a bug or a bad disk would). */
  db: Database;
  /** The Hono app that answers. */
  app: Hono;
  /** Long polls waiting for a queue (a test waits until its claim is waiting). */
  waiters: Waiters;
  /** Errors the app logged (it logs what it could not map to a code). */
  logged: string[];
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** As node_process.ts's call(): status, headers and the body parsed. */
  call: typeof call;
  stop(): Promise<void>;
  /**
   * The log's entries whose command superjson had to annotate (a value JSON does not carry, such
   * as a field left undefined): each costs superjson's walk to encode and to decode.
   */
  annotatedEntries(): Promise<string[]>;
  /** The type of every command in the log, in order (merged ones each counted). */
  commandTypes(): Promise<string[]>;
}

export async function startInProcessNode(
  options: {
    maxBodyBytes?: number;
    tuning?: Partial<NodeTuning>;
    /** A database file (its writes then fsynced), instead of memory. */
    dbPath?: string;
  } = {},
): Promise<InProcessNode> {
  const tuning = { ...defaultTuning, ...options.tuning };
  const db = await Database.open(options.dbPath ?? ":memory:");
  const storage = new RaftStorage(db);
  const init = bootstrapInit([{ id: "n1", url: "http://in-process.test" }]);
  storage.persist({
    hardState: init.hardState,
    entries: init.entries,
  });
  const waiters = new Waiters();
  const jobWaiters = new Waiters();
  const logged: string[] = [];
  const node = new RaftNode("n1", db, { ...storage.load(), appliedIndex: 0 }, tuning, {
    onFatal: (error) => logged.push(`fatal: ${error.message}`),
    onJobsReady: (queue, ready) => waiters.wake(queue, ready),
    onEvents: (queue) => waiters.wake(eventsKey(queue)),
    jobWatch: jobWaiters,
  });
  node.start();
  await waitFor("the node to lead", () => node.isLeader);
  const app = createApp({
    node,
    clusterId: () => "in-process",
    token: undefined,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    requestTimeoutMs: tuning.requestTimeoutMs,
    catchUpTimeoutMs: tuning.catchUpTimeoutMs,
    waiters,
    jobWaiters,
    logError: (event, error) => logged.push(`${event}: ${error}`),
  });
  // Every answer a test sees must be the one the OpenAPI document describes.
  const fetch = async (url: string, init?: RequestInit) => {
    const res = await app.request(url, init);
    if (!res.headers.get("content-type")?.startsWith("application/json")) return res;
    const text = await res.clone().text();
    checkAnswer(init?.method ?? "GET", url, res.status, text ? JSON.parse(text) : null);
    return res;
  };
  return {
    url: "http://in-process.test",
    node,
    db,
    app,
    waiters,
    logged,
    fetch,
    async call(url, method, body, headers = {}) {
      const res = await fetch(url, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async annotatedEntries() {
      const rows = await db.kysely.selectFrom("raft_log").select(["idx", "data"])
        .where("kind", "=", "normal").where("data", "!=", "").execute();
      const texts = rows.map((r) => ({ idx: r.idx, text: entryText(r.data) }));
      return texts.filter((r) => "meta" in JSON.parse(r.text)).map((r) => `${r.idx}: ${r.text}`);
    },
    async commandTypes() {
      const rows = await db.kysely.selectFrom("raft_log").select("data")
        .where("kind", "=", "normal").where("data", "!=", "").orderBy("idx").execute();
      return rows.flatMap((r) => {
        const cmd = JSON.parse(entryText(r.data)).json.cmd as {
          type: string;
          cmds?: { type: string }[];
        };
        return cmd.type === "merged" ? cmd.cmds!.map((c) => c.type) : [cmd.type];
      });
    },
    async stop() {
      node.stop();
      // The loop's turns already scheduled run first (immediates run in order).
      await new Promise((r) => setImmediate(r));
      db.close();
    },
  };
}

/** Runs `fn` with a fresh in-process node, checks that nothing made it log an error, stops it. */
export async function withInProcessNode(
  fn: (node: InProcessNode) => Promise<void>,
  options: Parameters<typeof startInProcessNode>[0] = {},
) {
  const node = await startInProcessNode(options);
  try {
    await fn(node);
    assert.deepEqual(node.logged, [], "nothing a client sent made the node log an error");
    assert.deepEqual(await node.annotatedEntries(), [], "every command is plain JSON");
  } finally {
    await node.stop();
  }
}

/** A log row's data as text (this version stores a command's UTF-8, see EntryData). */
function entryText(data: string | Uint8Array): string {
  return typeof data === "string" ? data : new TextDecoder().decode(data);
}
