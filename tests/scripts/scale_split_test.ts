// The scale bench's split of a database file: the Raft log's pages apart from the queue's state.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { fileSplit } from "../../scripts/bench/scale_bench.ts";

Deno.test("scale bench: a file's pages divide between the Raft log and the rest, per job", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raftq-split-" });
  try {
    const path = `${dir}/raftq.db`;
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE raft_log (idx INTEGER PRIMARY KEY, data TEXT NOT NULL)");
    db.exec("CREATE TABLE jobs (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
    const log = db.prepare("INSERT INTO raft_log (data) VALUES (?)");
    const job = db.prepare("INSERT INTO jobs (payload) VALUES (?)");
    db.exec("BEGIN");
    for (let i = 0; i < 100; i++) log.run("l".repeat(40_000)); // ten pages each
    for (let i = 0; i < 1_000; i++) job.run("j".repeat(100));
    db.exec("COMMIT");
    const pages = (name: string) =>
      (db.prepare("SELECT count(*) AS n FROM dbstat WHERE name = ?").get(name) as { n: number }).n;
    const logPages = pages("raft_log");
    const schemaAndJobsPages = pages("jobs") + pages("sqlite_schema");
    // Read while the writer's connection stays open, as the bench reads a running node's file.
    const split = fileSplit(path, 1_000);
    db.close();
    assert.ok(logPages >= 1_000, `${logPages} pages of log`);
    assert.equal(split.logBytesPerJob, logPages * 4096 / 1_000);
    assert.equal(split.stateBytesPerJob, schemaAndJobsPages * 4096 / 1_000);
    assert.ok(split.stateBytesPerJob > 100, "each job's 100 bytes are in the state");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
