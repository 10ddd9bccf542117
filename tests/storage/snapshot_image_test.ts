// Snapshot images: captured off the node's connection, streamed with a checksum, installed whole.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import { QueueStateMachine } from "../../src/queue/state_machine.ts";
import type { SnapshotMeta } from "../../src/raft/mod.ts";
import { type DataDir, openDataDir } from "../../src/storage/data_dir.ts";
import { inlineSteps, stepsUnderWay, workerSteps } from "../../src/storage/image_worker.ts";
import { SqliteLogStore } from "../../src/storage/log_store.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { fill, membership } from "./fixtures/image_node.ts";
import { tempDir } from "./helpers.ts";
import { waitFor } from "../helpers/node_process.ts";

const fixture = new URL("./fixtures/image_node.ts", import.meta.url).pathname;

function jobCount(dd: DataDir): number {
  return Number((dd.db.conn.db.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n);
}

/** Captures `store`'s state and adopts it as the snapshot at the index it holds. */
async function captureAndAdopt(store: SqliteLogStore, term = 1): Promise<SnapshotMeta> {
  const index = await new Promise<number>((resolve, reject) =>
    store.capture((err, i) => err ? reject(err) : resolve(i))
  );
  const meta = { index, term, membership };
  store.saveSnapshot(meta);
  return meta;
}

/** The whole stream a follower would receive, read in chunks of `chunkBytes`. */
function stream(store: SqliteLogStore, index: number, chunkBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let offset = 0;;) {
    const c = store.readSnapshotChunk(index, offset, chunkBytes);
    assert.ok(c, `no chunk at ${offset}`);
    parts.push(c.data);
    offset += c.data.length;
    if (c.done) break;
  }
  return new Uint8Array(Buffer.concat(parts)); // a copy: Buffer.slice would share memory
}

/** Two data directories, open, removed after `fn` (a node that sends an image, one that gets it). */
async function withTwoNodes(fn: (a: DataDir, b: DataDir) => Promise<void>): Promise<void> {
  const [dirA, dirB] = [await tempDir(), await tempDir()];
  const [a, b] = [await openDataDir(dirA), await openDataDir(dirB)];
  try {
    await fn(a, b);
  } finally {
    a.close();
    b.close();
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
}

/** `dd` filled with `batches` of 1,000 jobs in `queue`, captured at `term`: its image's stream. */
async function imageOf(dd: DataDir, batches: number, queue: string, term = 1) {
  fill(dd, 0, batches, queue);
  const store = new SqliteLogStore(dd.db, new RaftStorage(dd.db), inlineSteps);
  const meta = await captureAndAdopt(store, term);
  return { store, meta, data: stream(store, meta.index, 65_536) };
}

function installInto(
  store: SqliteLogStore,
  meta: SnapshotMeta,
  data: Uint8Array,
  cut = (from: number, to: number) => data.subarray(from, to),
): Promise<void> {
  const chunks = [];
  for (let offset = 0; offset < data.length; offset += 50_000) {
    const part = cut(offset, offset + 50_000);
    chunks.push({ meta, offset, data: part, done: offset + part.length >= data.length });
  }
  const last = chunks.pop()!;
  store.write({ hardState: null, entries: [], snapshotChunks: chunks } as never, () => {});
  return new Promise((resolve, reject) =>
    store.install(meta, [last], (err) => err ? reject(err) : resolve())
  );
}

Deno.test("snapshot image: captured on a worker, adopted beside the log, streamed with its trailer", async () => {
  const dir = await tempDir();
  const dd = await openDataDir(dir);
  try {
    const last = fill(dd, 0, 20);
    const storage = new RaftStorage(dd.db);
    const store = new SqliteLogStore(dd.db, storage, workerSteps);
    const meta = await captureAndAdopt(store);
    assert.equal(meta.index, last);
    assert.deepEqual(storage.imageMeta(), meta);
    assert.equal(storage.snapshotMeta().index, 0, "adopting an image compacts nothing");
    assert.equal(storage.load().entries.length, 20, "a follower behind still finds its entries");
    assert.deepEqual(storage.load().image, meta, "a restart knows the image");
    const image = storage.snapshotImage()!;
    assert.equal(Deno.statSync(`${store.dir}/${image.name}`).size, image.bytes);
    const data = stream(store, meta.index, 100_000);
    assert.equal(data.length, image.bytes + 48);
    assert.equal(new TextDecoder().decode(data.subarray(image.bytes, image.bytes + 8)), "RAFTQIMG");
    assert.deepEqual(stream(store, meta.index, 7_777), data, "any chunk size gives the same bytes");
    assert.equal(store.readSnapshotChunk(meta.index - 1, 0, 10), null, "only the current one");
    // A compaction up to it keeps it; one past it leaves no image: the next follower gets a new one.
    store.compact({ index: last - 5, term: 1, membership });
    assert.equal(store.hasImage(last), true);
    assert.equal(storage.load().entries.length, 5);
    assert.equal(stream(store, meta.index, 100_000).length, data.length);
    fill(dd, last, 1);
    store.compact({ index: last + 1, term: 1, membership });
    assert.equal(store.hasImage(last), false);
    assert.equal(storage.imageMeta(), null);
    assert.deepEqual([...Deno.readDirSync(store.dir)], [], "the old image file is removed");
  } finally {
    dd.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot image: installed whole over another state, log and all; a damaged one changes nothing", () =>
  withTwoNodes(async (a, b) => {
    const { meta, data } = await imageOf(a, 10, "a", 4);
    fill(b, 0, 3, "b");
    const storageB = new RaftStorage(b.db);
    const storeB = new SqliteLogStore(b.db, storageB, workerSteps);
    const damaged = data.slice();
    damaged[1000] ^= 0xff;
    await assert.rejects(installInto(storeB, meta, damaged), /SHA-256/);
    const gap = Buffer.concat([data.subarray(0, 4096), data.subarray(8192)]);
    await assert.rejects(installInto(storeB, meta, gap), /its trailer says/);
    await assert.rejects(installInto(storeB, meta, data.subarray(0, -1)), /not a raftq image/);
    assert.equal(jobCount(b), 3000, "the refused images changed nothing");
    assert.equal(storageB.load().entries.length, 3);
    const fileBefore = Deno.statSync(b.db.path).ino;
    storageB.setMeta("cluster_id", "c-kept");
    await installInto(storeB, meta, data);
    assert.notEqual(Deno.statSync(b.db.path).ino, fileBefore, "the image became the file");
    assert.equal(jobCount(b), 10_000);
    assert.deepEqual(storageB.load().snapshot, meta);
    assert.deepEqual(storageB.load().entries, []);
    assert.equal(storageB.getMeta("cluster_id"), "c-kept", "the node's own rows came along");
    const smB = new QueueStateMachine(b.db);
    assert.equal(smB.appliedIndex, meta.index);
    assert.deepEqual(smB.queueStats().map((q) => q.name), ["a"]);
    assert.deepEqual([...Deno.readDirSync(storeB.dir)], [], "no image is kept");
    assert.equal(storeB.hasImage(meta.index), false);
    assert.equal(storageB.imageMeta(), null);
    // It writes on in the new file, and can pass the state on in an image of its own.
    fill(b, meta.index, 1, "b");
    const again = await captureAndAdopt(storeB, 4);
    assert.equal(again.index, meta.index + 1);
    assert.equal(jobCount(b), 11_000);
  }));

Deno.test("snapshot image: a node's store lets each received chunk's own buffer go once written", () =>
  withTwoNodes(async (a, b) => {
    const { meta, data } = await imageOf(a, 3, "a", 2);
    const storeB = new SqliteLogStore(b.db, new RaftStorage(b.db), inlineSteps, true);
    // Each chunk a copy in a buffer of its own, as the frame decoder makes them.
    const copies: Uint8Array[] = [];
    await installInto(storeB, meta, data, (from, to) => {
      copies.push(data.slice(from, to));
      return copies.at(-1)!;
    });
    assert.equal(jobCount(b), 3000, "installed whole");
    const detached = (u: Uint8Array) => (u.buffer as ArrayBuffer).detached;
    assert.ok(copies.length > 3 && copies.every(detached), "each buffer let go");
    // A view into a larger buffer (someone else's bytes too) is never let go.
    await installInto(
      new SqliteLogStore(b.db, new RaftStorage(b.db), inlineSteps, true),
      meta,
      data,
    );
    assert.equal(detached(data), false);
  }));

Deno.test("snapshot image: kill -9 at any moment of an install leaves the old state or the new", async () => {
  const [dirA, dirB] = [await tempDir(), await tempDir()];
  const streamFile = await Deno.makeTempFile({ prefix: "raftq-stream-" });
  try {
    const a = await openDataDir(dirA);
    const storeA = new SqliteLogStore(a.db, new RaftStorage(a.db), inlineSteps);
    fill(a, 0, 60, "new");
    const meta = await captureAndAdopt(storeA, 2);
    Deno.writeFileSync(streamFile, stream(storeA, meta.index, 1 << 20));
    a.close();
    const b = await openDataDir(dirB);
    fill(b, 0, 5, "old");
    b.close();
    const outcomes = { old: 0, new: 0 };
    // Kills from before the worker starts to mid-copy; the last round waits for "installed".
    const delaysMs = [0, 40, 120, 300, 700, -1];
    for (let round = 0; round < delaysMs.length; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", fixture, dirB, streamFile, JSON.stringify(meta)],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.getReader();
      let said = "";
      const until = delaysMs[round] < 0 ? "installed" : "installing";
      while (!said.includes(until)) {
        const { value, done } = await reader.read();
        if (done) break;
        said += new TextDecoder().decode(value);
      }
      // Anywhere from before the worker starts to well after it commits.
      await new Promise((r) => setTimeout(r, Math.max(0, delaysMs[round])));
      try {
        child.kill("SIGKILL");
      } catch {
        // it had already finished
      }
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      const dd = await openDataDir(dirB);
      try {
        const { snapshot, entries } = new RaftStorage(dd.db).load();
        const sm = new QueueStateMachine(dd.db);
        const queues = sm.queueStats().map((q) => q.name).join(",");
        if (snapshot.index === meta.index) {
          assert.equal(queues, "new");
          assert.equal(jobCount(dd), 60_000);
          assert.equal(sm.appliedIndex, meta.index);
          assert.equal(entries.length, 0);
          outcomes.new++;
        } else {
          assert.equal(queues, "old", `round ${round}: a mix of states`);
          assert.equal(jobCount(dd), 5000);
          assert.equal(entries.length, 5);
          outcomes.old++;
        }
      } finally {
        dd.close();
      }
      if (outcomes.new > 0) break; // installed: later rounds would only see the new state
    }
    assert.ok(outcomes.old > 0, "some kill landed before the install committed");
    assert.equal(outcomes.new, 1, "the install, once it said so, was durable");
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
    await Deno.remove(streamFile);
  }
});

Deno.test("snapshot image: while another connection reads the file, the state is copied in instead", () =>
  withTwoNodes(async (a, b) => {
    const { meta, data } = await imageOf(a, 2, "a");
    const reader = new DatabaseSync(b.db.path, { readOnly: true });
    try {
      fill(b, 0, 1, "b");
      const storeB = new SqliteLogStore(b.db, new RaftStorage(b.db), inlineSteps);
      const fileBefore = Deno.statSync(b.db.path).ino;
      reader.exec("BEGIN");
      assert.equal(
        (reader.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n,
        1000,
      );
      await installInto(storeB, meta, data);
      assert.equal(Deno.statSync(b.db.path).ino, fileBefore, "the file stayed");
      assert.equal(jobCount(b), 2000);
      assert.deepEqual(new QueueStateMachine(b.db).queueStats().map((q) => q.name), ["a"]);
      assert.deepEqual([...Deno.readDirSync(storeB.dir)], [], "the image was removed");
      assert.equal(
        (reader.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n,
        1000,
        "the reader kept its view",
      );
      reader.exec("COMMIT");
    } finally {
      reader.close();
    }
  }));

Deno.test("snapshot image: a step on a worker counts as a connection on its file until it ends", async () => {
  const dir = await tempDir();
  const dd = await openDataDir(dir);
  try {
    fill(dd, 0, 1, "a");
    const store = new SqliteLogStore(dd.db, new RaftStorage(dd.db), workerSteps);
    const captured = new Promise<number>((resolve, reject) =>
      store.capture((err, i) => err ? reject(err) : resolve(i))
    );
    assert.equal(stepsUnderWay(dd.db.path), 1, "a swap would copy instead");
    assert.equal(await captured, 1);
    assert.equal(stepsUnderWay(dd.db.path), 0);
    store.discardCapture();
  } finally {
    dd.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshot image: after a swap the node's connection flushes and checkpoints the new file", () =>
  withTwoNodes(async (a, b) => {
    const { meta, data } = await imageOf(a, 2, "a");
    const errors: string[] = [];
    b.db.checkpointOffLoop((e) => errors.push(e));
    try {
      const storeB = new SqliteLogStore(b.db, new RaftStorage(b.db), workerSteps);
      const fileBefore = Deno.statSync(b.db.path).ino;
      await installInto(storeB, meta, data);
      assert.notEqual(Deno.statSync(b.db.path).ino, fileBefore, "swapped in");
      const pragma = (sql: string) => Object.values(b.db.conn.db.prepare(sql).get()!)[0];
      assert.equal(pragma("PRAGMA journal_mode"), "wal");
      assert.equal(pragma("PRAGMA wal_autocheckpoint"), 16_384, "the bound set again");
      fill(b, meta.index, 1, "b");
      await b.db.flushWal(); // refuses a WAL that is not SQLite's file
      await waitFor("a checkpoint of the new file", () => b.db.checkpointsOffLoop > 0, 10_000);
      assert.equal(jobCount(b), 3000);
      assert.deepEqual(errors, []);
    } finally {
      await b.db.stopCheckpoints();
    }
  }));
