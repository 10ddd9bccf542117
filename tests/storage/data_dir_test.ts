// Data directories that cannot be used: each made for real, each a clear StartupError.

import assert from "node:assert/strict";
import { join } from "node:path";
import { Kysely, sql } from "kysely";
import { Database } from "../../src/storage/database.ts";
import { dataDirLayout, openDataDir } from "../../src/storage/data_dir.ts";
import { NodeSqliteDialect } from "../../src/storage/dialect.ts";
import { StorageFatalError } from "../../src/storage/errors.ts";
import { StartupError } from "../../src/errors.ts";
import { bindClusterId, resolveNodeId } from "../../src/storage/identity.ts";
import { migrate, migrations } from "../../src/storage/migrations.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { SqliteConnection } from "../../src/storage/sqlite.ts";
import { tempDir } from "./helpers.ts";

const fixture = new URL("./fixtures/open_dir.ts", import.meta.url).pathname;

async function refused(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(() => openDataDir(dir), (err: unknown) => {
    assert.ok(err instanceof StartupError, String(err));
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"));
    return true;
  });
}

/** Writes 200 log entries into `dir`, then overwrites the 4 KiB page at `at(fileSize)`. */
async function damageAfterFill(dir: string, at: (size: number) => number): Promise<void> {
  const dd = await openDataDir(dir);
  new RaftStorage(dd.db).persist({
    hardState: null,
    entries: Array.from({ length: 200 }, (_, k) => ({
      index: k + 1,
      term: 1,
      kind: "normal" as const,
      data: "q".repeat(500),
    })),
  });
  dd.db.conn.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  dd.close();
  const path = join(dir, dataDirLayout.database);
  const bytes = await Deno.readFile(path);
  const from = at(bytes.length);
  bytes.fill(0xa5, from, from + 4096);
  await Deno.writeFile(path, bytes);
}

/** Appends 8 KB entries until a write fails (the disk or the database is full). */
function appendUntilFailure(s: RaftStorage): never {
  for (let index = 1;; index++) {
    s.persist({
      hardState: null,
      entries: [{ index, term: 1, kind: "normal", data: "f".repeat(8000) }],
    });
  }
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("data dir: created when missing, with the documented layout", async () => {
  await withTemp(async (root) => {
    const dir = join(root, "a", "b");
    const dd = await openDataDir(dir);
    dd.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.ok(names.includes(dataDirLayout.database));
    assert.ok(names.includes(dataDirLayout.lock));
  });
});

Deno.test("data dir: WAL journal and synchronous=FULL are in force", async () => {
  await withTemp(async (dir) => {
    const dd = await openDataDir(dir);
    const journal = dd.db.conn.db.prepare("PRAGMA journal_mode").get() as Record<string, string>;
    const sync = dd.db.conn.db.prepare("PRAGMA synchronous").get() as Record<string, number>;
    dd.close();
    assert.equal(journal.journal_mode, "wal");
    assert.equal(sync.synchronous, 2, "FULL");
  });
});

Deno.test("data dir: the WAL flush reaches SQLite's file across checkpoints, and fails if it is replaced", async () => {
  await withTemp(async (dir) => {
    const dd = await openDataDir(dir);
    try {
      const storage = new RaftStorage(dd.db);
      dd.db.setSynchronous(false);
      let index = 0;
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 50; k++) {
          const entries = Array.from({ length: 20 }, () => ({
            index: ++index,
            term: 1,
            kind: "normal" as const,
            data: "x".repeat(2000),
          }));
          storage.persist({ hardState: null, entries });
          await dd.db.flushWal();
        }
        // SQLite resets (and here truncates) the WAL at checkpoints: the same file must stay.
        dd.db.pragma(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
        await dd.db.flushWal();
      }
      const wal = join(dir, `${dataDirLayout.database}-wal`);
      await Deno.rename(wal, `${wal}.moved`);
      await Deno.writeFile(wal, new Uint8Array());
      await assert.rejects(
        () => dd.db.flushWal(),
        StorageFatalError,
        "a replaced WAL stops the node",
      );
    } finally {
      dd.close();
    }
  });
});

Deno.test("data dir: a second process gets 'in use by pid N' and exit code 2", async () => {
  await withTemp(async (dir) => {
    const holder = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", fixture, dir, "hold"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const reader = holder.stdout.getReader();
      const first = await reader.read();
      assert.match(new TextDecoder().decode(first.value), /opened/);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", fixture, dir],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 2);
      const err = new TextDecoder().decode(out.stderr).trim();
      assert.equal(err, `raftq: data directory ${dir} is in use by pid ${holder.pid}`);
      reader.releaseLock();
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
    }
  });
});

Deno.test("data dir: a path that is a file is refused", async () => {
  await withTemp(async (dir) => {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "x");
    await refused(file, /is not a directory/);
  });
});

Deno.test("data dir: a directory that cannot be written is refused", async () => {
  await withTemp(async (dir) => {
    // Root ignores permission bits, so use a place no one may create files in.
    const target = Deno.uid() === 0 ? "/proc/raftq-cannot-write-here" : join(dir, "ro", "data");
    if (Deno.uid() !== 0) {
      await Deno.mkdir(join(dir, "ro"));
      await Deno.chmod(join(dir, "ro"), 0o555);
    }
    await refused(target, /cannot create data directory|not writable/);
  });
});

Deno.test("data dir: a file that is not SQLite is refused and left as it was", async () => {
  await withTemp(async (dir) => {
    const db = join(dir, dataDirLayout.database);
    const junk = new TextEncoder().encode("this is not a database, just text ".repeat(200));
    await Deno.writeFile(db, junk);
    await refused(dir, /is not a raftq database/);
    assert.deepEqual(await Deno.readFile(db), junk);
  });
});

Deno.test("data dir: a truncated database file is refused and left as it was", async () => {
  await withTemp(async (dir) => {
    const dd = await openDataDir(dir);
    const s = new RaftStorage(dd.db);
    for (let i = 1; i <= 50; i++) {
      s.persist({
        hardState: null,
        entries: [{ index: i, term: 1, kind: "normal", data: "z".repeat(2000) }],
      });
    }
    dd.db.conn.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    dd.close();
    const path = join(dir, dataDirLayout.database);
    const whole = await Deno.readFile(path);
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    await Deno.writeFile(path, cut);
    await refused(dir, /damaged|malformed|not a raftq database/);
    assert.deepEqual(await Deno.readFile(path), cut);
  });
});

Deno.test("data dir: a page overwritten with garbage is caught by quick_check", async () => {
  await withTemp(async (dir) => {
    // Overwrite the middle of the file (b-tree pages), keeping the header intact.
    await damageAfterFill(dir, () => 8192);
    await refused(dir, /damaged|malformed/);
  });
});

Deno.test("data dir: a large file opens at once; its deferred quick_check finds the damage", async () => {
  await withTemp(async (dir) => {
    // The log's pages are at the end of the file; migrations and the schema still read fine.
    await damageAfterFill(dir, (size) => size - 3 * 4096);
    await refused(dir, /damaged|malformed/);
    const opened = await openDataDir(dir, { quickCheckInlineMaxBytes: 0 });
    try {
      const damage = await opened.db.checkDeferred();
      assert.match(damage ?? "", /raftq\.db is damaged \(SQLite quick_check: .+\): restore it/);
      assert.ok(!damage!.includes("\n"));
      assert.equal(await opened.db.checkDeferred(), null, "checked once");
    } finally {
      opened.close();
    }
    const sound = await openDataDir(await Deno.makeTempDir({ dir }), {
      quickCheckInlineMaxBytes: 0,
    });
    try {
      assert.equal(await sound.db.checkDeferred(), null, "a sound file passes");
    } finally {
      sound.close();
    }
  });
});

Deno.test("data dir: a file from a newer schema is refused", async () => {
  await withTemp(async (dir) => {
    const dd = await openDataDir(dir);
    dd.db.conn.db.exec(
      "INSERT INTO kysely_migration (name, timestamp) VALUES ('999_from_the_future', '2030-01-01')",
    );
    dd.close();
    await refused(dir, /written by a newer raftq \(schema 999_from_the_future\)/);
  });
});

Deno.test("migrations: from an empty file, and from schema 5 through every later one", async () => {
  await withTemp(async (dir) => {
    const path = join(dir, "m.db");
    const conn = new SqliteConnection(path);
    const db = new Kysely({ dialect: new NodeSqliteDialect(conn) });
    const names = Object.keys(migrations);
    const five = names.slice(0, names.indexOf("006_queue_counts"));
    const previous = Object.fromEntries(five.map((n) => [n, migrations[n]]));
    await migrate(db, previous);
    conn.db.exec(
      "INSERT INTO raft_log (idx, term, kind, data, change, checksum) VALUES (1, 1, 'noop', '', NULL, 0)",
    );
    conn.db.exec(
      `INSERT INTO raft_snapshot (id, idx, term, membership, size_bytes, checksum, image, sha256)
        VALUES (1, 7, 2, '{"members":[]}', 4096, 0, 'snap-7-2.db', 'ab')`,
    );
    for (
      const [id, queue, state] of [["1-0", "a", "ready"], ["1-1", "a", "ready"], [
        "1-2",
        "b",
        "dead",
      ]]
    ) {
      conn.db.prepare(
        `INSERT INTO jobs (id, queue, state, priority, seq, payload, attempts, max_attempts,
          available_at, created_at, updated_at) VALUES (?, ?, ?, 0, 0, '1', 0, 3, 0, 0, 0)`,
      ).run(id, queue, state);
    }
    conn.close();
    const upgraded = await Database.open(path);
    const applied = upgraded.conn.db.prepare("SELECT name FROM kysely_migration ORDER BY name")
      .all().map((r) => (r as { name: string }).name);
    assert.deepEqual(applied, names);
    const kept = upgraded.conn.db.prepare("SELECT COUNT(*) AS n FROM raft_log").get() as {
      n: number;
    };
    assert.equal(kept.n, 1, "rows written under the previous schema are kept");
    assert.deepEqual(
      [...upgraded.conn.db.prepare("SELECT * FROM raft_image").all()].map((r) => ({ ...r })),
      [{
        id: 1,
        idx: 7,
        term: 2,
        membership: '{"members":[]}',
        name: "snap-7-2.db",
        size_bytes: 4096,
        sha256: "ab",
      }],
      "the image the snapshot row named has a row of its own",
    );
    assert.deepEqual(
      { ...upgraded.conn.db.prepare("SELECT idx, term FROM raft_snapshot").get() },
      { idx: 7, term: 2 },
      "the log still starts where it did",
    );
    assert.deepEqual(
      upgraded.conn.db.prepare("SELECT queue, state, n FROM queue_counts ORDER BY queue").all()
        .map((r) => ({ ...r })),
      [{ queue: "a", state: "ready", n: 2 }, { queue: "b", state: "dead", n: 1 }],
      "the jobs already there are counted",
    );
    const progress = upgraded.conn.db.prepare("SELECT progress FROM jobs").all();
    assert.deepEqual(progress.map((r) => ({ ...r })), Array(3).fill({ progress: null }));
    assert.deepEqual(
      upgraded.conn.db.prepare("SELECT id, rowid AS r FROM jobs ORDER BY rowid").all()
        .map((r) => ({ ...r })),
      [{ id: "1-0", r: 10_000 }, { id: "1-1", r: 10_001 }, { id: "1-2", r: 10_002 }],
      "each job is stored under the seq its id names",
    );
    const indexes = upgraded.conn.db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'jobs' ORDER BY name",
    ).all().map((r) => (r as { name: string }).name);
    assert.deepEqual(indexes, [
      "jobs_dead",
      "jobs_delayed",
      "jobs_expiry",
      "jobs_finished_queue",
      "jobs_group_list",
      "jobs_leased",
      "jobs_list",
      "jobs_ready",
      "jobs_unique",
    ], "the indexes made again; the id's own is gone");
    upgraded.close();
  });
});

Deno.test("data dir: a full disk is a clear error at start-up and a fatal one under load", async () => {
  await withTemp(async (dir) => {
    const mnt = join(dir, "small");
    await Deno.mkdir(mnt);
    const mounted = (await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => ({ code: 1 }))).code === 0;
    try {
      if (mounted) {
        // Start-up on a disk with no room: the file cannot even be created.
        const filler = join(mnt, "filler");
        await Deno.writeFile(filler, new Uint8Array(2 * 1024 * 1024)).catch(() => {});
        await refused(join(mnt, "data"), /full|No space|cannot/);
        await Deno.remove(filler);
        // Under load: writes fill the disk and fail as a StorageFatalError.
        const dd = await openDataDir(join(mnt, "data"));
        const s = new RaftStorage(dd.db);
        assert.throws(() => appendUntilFailure(s), /full/);
        dd.close();
      } else {
        // Without the right to mount, SQLite's page limit yields the same SQLITE_FULL path.
        const dd = await openDataDir(join(dir, "data"));
        dd.db.conn.db.exec("PRAGMA max_page_count = 64");
        const s = new RaftStorage(dd.db);
        assert.throws(() => appendUntilFailure(s), /full/);
        dd.close();
      }
    } finally {
      if (mounted) {
        await new Deno.Command("umount", { args: [mnt], stdout: "null", stderr: "null" }).output();
      }
    }
  });
});

Deno.test("identity: a stored node id wins; a different --id is refused", async () => {
  await withTemp(async (dir) => {
    const dd = await openDataDir(dir);
    const s = new RaftStorage(dd.db);
    assert.equal(resolveNodeId(s, undefined, () => "gen-1"), "gen-1");
    assert.equal(resolveNodeId(s, undefined, () => "gen-2"), "gen-1");
    assert.equal(resolveNodeId(s, "gen-1", () => "x"), "gen-1");
    assert.throws(
      () => resolveNodeId(s, "other", () => "x"),
      /belongs to node gen-1, but --id is other/,
    );
    bindClusterId(s, "c1");
    bindClusterId(s, "c1");
    assert.throws(() => bindClusterId(s, "c2"), /belongs to cluster c1/);
    dd.close();
  });
});

Deno.test("data dir: without --allow-all SQLite cannot attach images: refused at start, clearly", async () => {
  const dir = await tempDir();
  try {
    const scoped = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", fixture, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(scoped.code, 2);
    assert.match(new TextDecoder().decode(scoped.stderr), /run raftq with --allow-all/);
    const all = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", fixture, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(all.code, 0, new TextDecoder().decode(all.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
