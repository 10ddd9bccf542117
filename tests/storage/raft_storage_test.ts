// The Raft storage against real SQLite files: every operation, and restart round trips.

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/mod.ts";
import { openDataDir } from "../../src/storage/data_dir.ts";
import { StorageFatalError } from "../../src/storage/errors.ts";
import { crc32Strings } from "../../src/storage/checksum.ts";
import { entryChecksum, RaftStorage } from "../../src/storage/raft_storage.ts";
import { tempDir, withDataDir } from "./helpers.ts";

const entry = (index: number, term: number, data = `d${index}`): Entry => ({
  index,
  term,
  kind: "normal",
  data,
});
const noBatch = { hardState: null, entries: [] };

/** A conf entry adding learner b. */
const learnerB = (index: number, term: number): Entry => ({
  index,
  term,
  kind: "conf",
  data: "",
  change: { type: "addLearner", id: "b", url: "http://b" },
});

Deno.test("storage: an empty file loads as an empty log", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    const state = s.load();
    assert.deepEqual(state.hardState, { term: 0, vote: "", commit: 0 });
    assert.equal(state.snapshot.index, 0);
    assert.deepEqual(state.entries, []);
  });
});

Deno.test("storage: entries, conf changes and hard state survive a reopen", async () => {
  const dir = await tempDir();
  try {
    let dd = await openDataDir(dir);
    const s = new RaftStorage(dd.db);
    const conf = learnerB(3, 2);
    s.persist({
      ...noBatch,
      entries: [entry(1, 1), entry(2, 1), conf, { index: 4, term: 2, kind: "noop", data: "" }],
      hardState: { term: 2, vote: "a", commit: 3 },
    });
    dd.close();
    dd = await openDataDir(dir);
    const loaded = new RaftStorage(dd.db).load();
    assert.deepEqual(loaded.hardState, { term: 2, vote: "a", commit: 3 });
    assert.equal(loaded.entries.length, 4);
    assert.deepEqual(loaded.entries[2], conf);
    assert.equal(loaded.entries[3].kind, "noop");
    dd.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storage: writing entries from index i replaces the stored suffix from i", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    s.persist({ ...noBatch, entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)) });
    s.persist({ ...noBatch, entries: [entry(3, 2, "new3")] });
    const { entries } = s.load();
    assert.deepEqual(entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 2]]);
    assert.equal(s.lastIndex(), 3);
    assert.equal(s.term(3), 2);
  });
});

Deno.test("storage: a large batch of mixed sizes round-trips in order", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    const batch = Array.from({ length: 1337 }, (_, k) => entry(k + 1, 1, "x".repeat(k % 300)));
    s.persist({ ...noBatch, entries: batch });
    assert.deepEqual(s.load().entries, batch);
  });
});

Deno.test("storage: range reads honour a byte budget", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    s.persist({ ...noBatch, entries: [1, 2, 3, 4].map((i) => entry(i, 1, "y".repeat(100))) });
    assert.equal(s.entries(1, 5).length, 4);
    assert.equal(s.entries(1, 5, 300).length, 2, "two 132-byte entries (as the core counts them)");
    assert.equal(s.entries(1, 5, 1).length, 1);
    assert.equal(s.entries(2, 4).map((e) => e.index).join(), "2,3");
  });
});

Deno.test("storage: a damaged entry is refused when read, never served", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    s.persist({ ...noBatch, entries: [entry(1, 1), entry(2, 1)] });
    dd.db.conn.db.exec("UPDATE raft_log SET data = 'tampered' WHERE idx = 2");
    assert.throws(() => s.load(), (err: unknown) => {
      assert.ok(err instanceof StorageFatalError);
      assert.match(err.message, /entry 2 fails its checksum/);
      return true;
    });
  });
});

Deno.test("storage: entries written with the earlier checksum still load", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    const old = entry(1, 1, "payload \u00e9\u{1F600}");
    s.persist({ ...noBatch, entries: [old, entry(2, 1)] });
    const legacy = crc32Strings(["1", "1", "normal", old.data as string, ""]);
    assert.notEqual(legacy, entryChecksum(old), "the two checksums differ");
    dd.db.conn.db.prepare("UPDATE raft_log SET checksum = ? WHERE idx = 1").run(legacy);
    assert.deepEqual(s.load().entries.map((e) => e.data), [old.data, "d2"]);
    dd.db.conn.db.prepare("UPDATE raft_log SET checksum = ? WHERE idx = 1").run(legacy ^ 1);
    assert.throws(() => s.load(), /entry 1 fails its checksum/);
  });
});

Deno.test("storage: an entry's data given as UTF-8 loads byte for byte, its checksum the text's", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    const text = '{"payload":"é 😀"}';
    const bytes: Entry = { ...entry(1, 1), data: new TextEncoder().encode(text) };
    assert.equal(entryChecksum(bytes), entryChecksum(entry(1, 1, text)), "the same CRC");
    s.persist({ ...noBatch, entries: [bytes, entry(2, 1)] });
    const loaded = s.load().entries;
    assert.deepEqual(loaded.map((e) => e.data), [bytes.data, "d2"]);
    assert.ok(loaded[0].data instanceof Uint8Array, "kept as bytes (a BLOB)");
    // Rows of the earlier checksum (UTF-16 code units of the text) load as well.
    const legacy = crc32Strings(["1", "1", "normal", text, ""]);
    dd.db.conn.db.prepare("UPDATE raft_log SET checksum = ? WHERE idx = 1").run(legacy);
    assert.deepEqual(s.load().entries[0].data, bytes.data);
    dd.db.conn.db.prepare("UPDATE raft_log SET checksum = ? WHERE idx = 1").run(legacy ^ 1);
    assert.throws(() => s.load(), /entry 1 fails its checksum/);
  });
});

Deno.test("storage: a write that SQLite refuses is a StorageFatalError and changes nothing", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    s.persist({ ...noBatch, entries: [entry(1, 1)] });
    dd.db.conn.db.exec("PRAGMA query_only = ON");
    assert.throws(
      () => s.persist({ ...noBatch, entries: [entry(2, 1)] }),
      StorageFatalError,
    );
    dd.db.conn.db.exec("PRAGMA query_only = OFF");
    assert.equal(s.load().entries.length, 1);
  });
});

Deno.test("storage: node identity is kept in the file", async () => {
  const dir = await tempDir();
  try {
    let dd = await openDataDir(dir);
    new RaftStorage(dd.db).setMeta("node_id", "n1");
    new RaftStorage(dd.db).setMeta("node_id", "n1");
    dd.close();
    dd = await openDataDir(dir);
    assert.equal(new RaftStorage(dd.db).getMeta("node_id"), "n1");
    assert.equal(new RaftStorage(dd.db).getMeta("cluster_id"), undefined);
    dd.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storage: a bounded load holds every term, the conf entries, and only the newest entries", async () => {
  await withDataDir((dd) => {
    const s = new RaftStorage(dd.db);
    const conf = learnerB(2, 1);
    const entries = [
      entry(1, 1),
      conf,
      ...Array.from({ length: 8 }, (_, k) => entry(k + 3, 2, "x".repeat(100))),
    ];
    s.persist({ ...noBatch, entries, hardState: { term: 2, vote: "a", commit: 10 } });
    const loaded = s.loadBounded(300);
    assert.equal(loaded.terms.length, 10);
    assert.deepEqual(loaded.terms, entries.map((x) => x.term));
    assert.deepEqual(loaded.confs.map((x) => x.index), [2]);
    assert.deepEqual(
      loaded.entries.map((x) => x.index),
      [9, 10],
      "two 132-byte entries fit in 300",
    );
    assert.equal(loaded.hardState.commit, 10);
    assert.equal(s.entries(1, 11, 250).length, 3, "reads stop at their byte budget");
  });
});

Deno.test("storage: the rows a compaction covers go a bounded piece with each later write", async () => {
  const dir = await tempDir();
  try {
    let dd = await openDataDir(dir);
    let s = new RaftStorage(dd.db);
    const big = "x".repeat(400_000);
    s.persist({
      ...noBatch,
      entries: [
        ...Array.from({ length: 600 }, (_, k) => entry(k + 1, 1)),
        ...Array.from({ length: 5 }, (_, k) => entry(601 + k, 1, big)),
      ],
    });
    s.saveSnapshotMetaOnly({ index: 604, term: 1, membership: { members: [] } });
    const covered = () =>
      (dd.db.conn.db.prepare("SELECT count(*) AS n FROM raft_log WHERE idx <= 604").get() as {
        n: number;
      }).n;
    let next = 606;
    const write = () => s.persist({ ...noBatch, entries: [entry(next++, 1)] });
    const left = [covered()];
    for (const _ of [1, 2]) {
      write();
      left.push(covered());
      assert.deepEqual(s.load().entries.map((e) => e.index)[0], 605, "covered rows are not read");
      assert.equal(s.term(300), undefined);
    }
    dd.close(); // a restart goes on where the last write stopped
    dd = await openDataDir(dir);
    s = new RaftStorage(dd.db);
    for (const _ of [3, 4, 5]) {
      write();
      left.push(covered());
    }
    dd.close();
    // 256 rows a write, then about 1 MiB: 88 small rows and two of 400 KB, then the last two.
    assert.deepEqual(left, [604, 348, 92, 2, 0, 0]);
    dd = await openDataDir(dir);
    const entries = new RaftStorage(dd.db).load().entries;
    assert.deepEqual(entries.map((e) => e.index), [605, 606, 607, 608, 609, 610]);
    assert.equal(entries[0].data, big);
    dd.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
