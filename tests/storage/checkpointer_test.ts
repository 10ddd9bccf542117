// WAL checkpoints on a worker: they happen, the node's connection keeps a bound, nothing is lost.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Checkpointer } from "../../src/storage/checkpointer.ts";
import { openDataDir } from "../../src/storage/data_dir.ts";
import { longReadBegins, longReadEnds, workerSteps } from "../../src/storage/image_worker.ts";
import { SqliteLogStore } from "../../src/storage/log_store.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { waitFor } from "../helpers/node_process.ts";
import { tempDir } from "./helpers.ts";

Deno.test("checkpointer: the WAL is copied back off the loop; the bound and every row stay", async () => {
  const dir = await tempDir();
  try {
    const dd = await openDataDir(dir);
    const errors: string[] = [];
    dd.db.checkpointOffLoop((e) => errors.push(e));
    const conn = dd.db.conn.db;
    assert.equal(
      (conn.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number })
        .wal_autocheckpoint,
      16_384,
      "the node's connection only checkpoints past the bound",
    );
    dd.db.transaction(() => conn.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"));
    await waitFor("the new table checkpointed", () => dd.db.checkpointsOffLoop > 0, 10_000);
    // New pages live only in the WAL until a checkpoint copies them into the database file.
    const fileBytes = () => Deno.statSync(dd.db.path).size;
    const startBytes = fileBytes();
    const insert = conn.prepare("INSERT INTO t (v) VALUES (?)");
    for (let round = 0; round < 20; round++) {
      dd.db.transaction(() => {
        for (let i = 0; i < 500; i++) insert.run("x".repeat(200));
      });
    }
    // About 2 MB of rows, under SQLite's own default bound: only the worker copies them back.
    await waitFor("the rows in the database file", () => fileBytes() > startBytes + 1e6, 10_000);
    await dd.db.stopCheckpoints();
    dd.close();
    assert.deepEqual(errors, []);
    const again = new DatabaseSync(`${dir}/raftq.db`);
    try {
      assert.equal((again.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 10_000);
    } finally {
      again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpointer: past the bound the node's connection checkpoints itself, worker or not", async () => {
  const dir = await tempDir();
  try {
    const dd = await openDataDir(dir);
    dd.db.checkpointOffLoop(() => {}, 50); // a bound of 50 pages (200 KiB) for the test
    const conn = dd.db.conn.db;
    dd.db.transaction(() => conn.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"));
    const fileBytes = () => Deno.statSync(dd.db.path).size;
    const startBytes = fileBytes();
    const insert = conn.prepare("INSERT INTO t (v) VALUES (?)");
    // All in one turn of the event loop: the worker's timer cannot fire, so any page that
    // reaches the database file was copied by the node's own connection at the bound.
    for (let round = 0; round < 20; round++) {
      dd.db.transaction(() => {
        for (let i = 0; i < 100; i++) insert.run("x".repeat(500));
      });
    }
    assert.equal(dd.db.checkpointsOffLoop, 0, "the worker had no turn");
    assert.ok(
      fileBytes() > startBytes + 500_000,
      `${fileBytes()} bytes: checkpointed at the bound`,
    );
    await dd.db.stopCheckpoints();
    dd.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpointer: a draining stop copies the WAL back on the worker first", async () => {
  const dir = await tempDir();
  try {
    const dd = await openDataDir(dir);
    const conn = dd.db.conn.db;
    conn.exec("PRAGMA wal_autocheckpoint = 0"); // (only the worker copies pages back here)
    dd.db.transaction(() => conn.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"));
    const fileBytes = () => Deno.statSync(dd.db.path).size;
    const startBytes = fileBytes();
    dd.db.transaction(() => {
      const insert = conn.prepare("INSERT INTO t (v) VALUES (?)");
      for (let i = 0; i < 2_000; i++) insert.run("x".repeat(500));
    });
    const worker = new Checkpointer(dd.db.path, () => {}, 60_000); // (no tick in this test)
    await worker.stop(true);
    assert.equal(worker.done, 1, "one last checkpoint");
    assert.ok(fileBytes() > startBytes + 500_000, `${fileBytes()} bytes: copied back`);
    const idle = new Checkpointer(dd.db.path, () => {}, 60_000);
    await idle.stop();
    assert.equal(idle.done, 0, "a plain stop runs none");
    dd.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpointer: a long read lifts the bound; after it the worker copies the WAL back", async () => {
  const dir = await tempDir();
  try {
    const dd = await openDataDir(dir);
    const bound = () =>
      (dd.db.conn.db.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number })
        .wal_autocheckpoint;
    dd.db.checkpointOffLoop(() => {}, 50); // a bound of 50 pages (200 KiB) for the test
    const conn = dd.db.conn.db;
    dd.db.transaction(() => conn.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"));
    // A capture, a backup's copy or a quick_check holds one view this long; here, a reader.
    const reader = new DatabaseSync(dd.db.path);
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM t").get();
    longReadBegins(dd.db.path);
    assert.equal(bound(), 0, "nothing the reader holds back is copied at a commit, so none tries");
    const insert = conn.prepare("INSERT INTO t (v) VALUES (?)");
    for (let round = 0; round < 20; round++) {
      dd.db.transaction(() => {
        for (let i = 0; i < 100; i++) insert.run("x".repeat(500));
      });
    }
    const fileBytes = () => Deno.statSync(dd.db.path).size;
    const startBytes = fileBytes();
    const done = dd.db.checkpointsOffLoop;
    reader.exec("COMMIT");
    reader.close();
    longReadEnds(dd.db.path);
    // No commit from here on: every page that reaches the file was copied by the worker.
    await waitFor("the bound set again", () => bound() === 50, 10_000);
    assert.ok(dd.db.checkpointsOffLoop > done, "the worker caught up first");
    assert.ok(fileBytes() > startBytes + 500_000, `${fileBytes()} bytes: copied back off the loop`);
    // A capture is such a read: the bound is lifted while it runs.
    const store = new SqliteLogStore(dd.db, new RaftStorage(dd.db), workerSteps);
    const captured = new Promise<void>((resolve, reject) =>
      store.capture((err) => err ? reject(err) : resolve())
    );
    assert.equal(bound(), 0, "lifted while the capture reads");
    await captured;
    store.discardCapture();
    await waitFor("the bound set again after the capture", () => bound() === 50, 10_000);
    await dd.db.stopCheckpoints();
    dd.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
