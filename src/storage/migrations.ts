// Schema migrations, run with Kysely's Migrator at start-up; newer schemas are refused.

import { type Kysely, sql } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";
import { StartupError } from "../errors.ts";

// deno-lint-ignore no-explicit-any
type AnyDb = Kysely<any>;

/** Every migration, in order. Names sort in the order they must run. */
export const migrations: Record<string, Migration> = {
  "001_identity_and_log": {
    async up(db: AnyDb) {
      await db.schema.createTable("node_meta")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
      await db.schema.createTable("raft_hard_state")
        .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn("term", "integer", (c) => c.notNull())
        .addColumn("vote", "text", (c) => c.notNull())
        .addColumn("commit_index", "integer", (c) => c.notNull())
        .execute();
      await db.schema.createTable("raft_log")
        .addColumn("idx", "integer", (c) => c.primaryKey())
        .addColumn("term", "integer", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .addColumn("change", "text")
        .addColumn("checksum", "integer", (c) => c.notNull())
        .execute();
    },
  },
  "002_snapshots": {
    async up(db: AnyDb) {
      await db.schema.createTable("raft_snapshot")
        .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("term", "integer", (c) => c.notNull())
        .addColumn("membership", "text", (c) => c.notNull())
        .addColumn("size_bytes", "integer", (c) => c.notNull())
        .addColumn("checksum", "integer", (c) => c.notNull())
        .execute();
      for (const table of ["raft_snapshot_chunk", "raft_incoming_chunk"]) {
        await db.schema.createTable(table)
          .addColumn("offset", "integer", (c) => c.primaryKey())
          .addColumn("data", "blob", (c) => c.notNull())
          .execute();
      }
      await db.schema.createTable("raft_incoming")
        .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("term", "integer", (c) => c.notNull())
        .addColumn("membership", "text", (c) => c.notNull())
        .execute();
    },
  },
  "003_queue": {
    async up(db: AnyDb) {
      await db.schema.createTable("queue_state")
        .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn("applied_index", "integer", (c) => c.notNull())
        .addColumn("now_ms", "integer", (c) => c.notNull())
        .execute();
      await db.schema.createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("result", "text")
        .addColumn("last_error", "text")
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("max_attempts", "integer", (c) => c.notNull())
        .addColumn("available_at", "integer", (c) => c.notNull())
        .addColumn("lease", "text")
        .addColumn("lease_expires_at", "integer")
        .addColumn("worker", "text")
        .addColumn("idempotency_key", "text")
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addColumn("updated_at", "integer", (c) => c.notNull())
        .addColumn("finished_at", "integer")
        .execute();
      // Claim: the best ready job of a queue is the first row of this index.
      await db.schema.createIndex("jobs_claim").on("jobs")
        .columns(["queue", "state", "priority desc", "available_at", "seq"]).execute();
      await db.schema.createIndex("jobs_due").on("jobs").columns(["state", "available_at"])
        .execute();
      await db.schema.createIndex("jobs_lease_expiry").on("jobs")
        .columns(["state", "lease_expires_at"]).execute();
      await db.schema.createIndex("jobs_finished").on("jobs")
        .columns(["queue", "state", "finished_at"]).execute();
      await db.schema.createIndex("jobs_retention").on("jobs").columns(["finished_at"])
        .where(sql.ref("finished_at"), "is not", null).execute();
      await db.schema.createTable("idempotency")
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("idempotency_pk", ["queue", "key"])
        .execute();
      await db.schema.createIndex("idempotency_age").on("idempotency").column("created_at")
        .execute();
    },
  },
  // Indexes that only ever hold the rows their queries look for: a ready job (most of them) no
  // longer sits in the delayed, leased and finished indexes, so an enqueue writes three b-trees
  // instead of six. Their queries name the state as a literal so SQLite can use them.
  "004_partial_job_indexes": {
    async up(db: AnyDb) {
      for (const name of ["jobs_due", "jobs_lease_expiry", "jobs_finished"]) {
        await db.schema.dropIndex(name).execute();
      }
      await db.schema.createIndex("jobs_delayed").on("jobs").column("available_at")
        .where(sql.ref("state"), "=", sql.lit("delayed")).execute();
      await db.schema.createIndex("jobs_leased").on("jobs").column("lease_expires_at")
        .where(sql.ref("state"), "=", sql.lit("leased")).execute();
      await db.schema.createIndex("jobs_dead").on("jobs").columns(["queue", "finished_at", "id"])
        .where(sql.ref("state"), "=", sql.lit("dead")).execute();
    },
  },
  // Snapshots became SQLite images in files of their own, streamed from the file: the tables
  // that held snapshot bytes in chunks go. An old snapshot row keeps its index, with no image.
  "005_snapshot_images": {
    async up(db: AnyDb) {
      await db.schema.alterTable("raft_snapshot").addColumn("image", "text").execute();
      await db.schema.alterTable("raft_snapshot").addColumn("sha256", "text").execute();
      await db.updateTable("raft_snapshot").set({ size_bytes: -1 }).execute();
      for (const table of ["raft_snapshot_chunk", "raft_incoming_chunk", "raft_incoming"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  },
  // Jobs per queue and state, kept by every apply in the same transaction, so a start-up reads a
  // few rows instead of counting every job (1.2 s at ten million).
  "006_queue_counts": {
    async up(db: AnyDb) {
      await db.schema.createTable("queue_counts")
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("n", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("queue_counts_pk", ["queue", "state"])
        .execute();
      await sql`INSERT INTO queue_counts (queue, state, n)
        SELECT queue, state, count(*) FROM jobs GROUP BY queue, state`.execute(db);
    },
  },
  // A worker's last progress report on a job (POST /v1/jobs/:id/progress).
  "007_job_progress": {
    async up(db: AnyDb) {
      await db.schema.alterTable("jobs").addColumn("progress", "text").execute();
    },
  },
  // Per-queue settings in the replicated state: paused, and the config a queue's jobs default to.
  "008_queue_settings": {
    async up(db: AnyDb) {
      await db.schema.createTable("queue_settings")
        .addColumn("queue", "text", (c) => c.primaryKey())
        .addColumn("paused", "integer", (c) => c.notNull())
        .addColumn("config", "text", (c) => c.notNull())
        .execute();
    },
  },
  // Listing a queue's jobs by state, newest first (GET /v1/queues/:queue/jobs), and purging a
  // finished state in bounded entries: one index serves both without a scan.
  "009_jobs_list": {
    async up(db: AnyDb) {
      await db.schema.createIndex("jobs_list").on("jobs").columns(["queue", "state", "seq"])
        .execute();
    },
  },
  // Enqueue fields of api.md part 2: uniqueKey (one unfinished job per key: a partial unique
  // index holds only unfinished jobs), ttlMs (expire_at, in a partial index of the jobs that can
  // still expire) and idempotencyWindowMs (each key keeps its own expiry).
  "010_unique_ttl_windows": {
    async up(db: AnyDb) {
      await db.schema.alterTable("jobs").addColumn("unique_key", "text").execute();
      await db.schema.alterTable("jobs").addColumn("expire_at", "integer").execute();
      await sql`CREATE UNIQUE INDEX jobs_unique ON jobs (queue, unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('ready', 'delayed', 'leased')`.execute(db);
      await sql`CREATE INDEX jobs_expiry ON jobs (expire_at)
        WHERE expire_at IS NOT NULL AND state IN ('ready', 'delayed')`.execute(db);
      await db.schema.alterTable("idempotency")
        .addColumn("expires_at", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await sql`UPDATE idempotency SET expires_at = created_at + 86400000`.execute(db);
      await db.schema.dropIndex("idempotency_age").execute();
      await db.schema.createIndex("idempotency_expiry").on("idempotency").column("expires_at")
        .execute();
    },
  },
  // Schedules (api.md part 2): their spec, the slot they fire next, and what they fired last.
  "011_schedules": {
    async up(db: AnyDb) {
      await db.schema.createTable("schedules")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("spec", "text", (c) => c.notNull())
        .addColumn("next_run_at", "integer")
        .addColumn("last_slot_ms", "integer")
        .addColumn("last_job_id", "text")
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addColumn("updated_at", "integer", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("schedules_due").on("schedules").column("next_run_at")
        .execute();
    },
  },
  // Retention per queue: finished jobs are found by queue (a queue's own retentionMs, or the
  // node's), in a partial index that holds finished jobs only — an enqueue no longer writes a
  // NULL entry into a retention index.
  "012_retention_by_queue": {
    async up(db: AnyDb) {
      await db.schema.dropIndex("jobs_retention").execute();
      await sql`CREATE INDEX jobs_finished_queue ON jobs (queue, finished_at)
        WHERE finished_at IS NOT NULL`.execute(db);
    },
  },
  // Fair groups and flow control (api.md part 2): jobs carry a group ('' for none); ready jobs
  // are found per group by a partial index (a claimed or finished job leaves it); named groups
  // are listed by their own partial index; queue_groups keeps each group's ready and leased jobs
  // and its turn, and queue_rate the claims of a queue's current rate window.
  "013_groups": {
    async up(db: AnyDb) {
      await db.schema.alterTable("jobs")
        .addColumn("grp", "text", (c) => c.notNull().defaultTo("")).execute();
      await db.schema.dropIndex("jobs_claim").execute();
      await sql`CREATE INDEX jobs_ready ON jobs (queue, grp, priority DESC, available_at, seq)
        WHERE state = 'ready'`.execute(db);
      await sql`CREATE INDEX jobs_group_list ON jobs (queue, grp, state, seq)
        WHERE grp <> ''`.execute(db);
      await db.schema.createTable("queue_groups")
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("grp", "text", (c) => c.notNull())
        .addColumn("ready", "integer", (c) => c.notNull())
        .addColumn("leased", "integer", (c) => c.notNull())
        .addColumn("turn", "integer", (c) => c.notNull())
        .addColumn("active", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("queue_groups_pk", ["queue", "grp"])
        .execute();
      await sql`CREATE INDEX queue_groups_turn ON queue_groups (queue, turn, grp)
        WHERE active = 1`.execute(db);
      await sql`INSERT INTO queue_groups (queue, grp, ready, leased, turn, active)
        SELECT queue, '', sum(state = 'ready'), sum(state = 'leased'), 0, sum(state = 'ready') > 0
        FROM jobs WHERE state IN ('ready', 'leased') GROUP BY queue`.execute(db);
      await db.schema.createTable("queue_rate")
        .addColumn("queue", "text", (c) => c.primaryKey())
        .addColumn("window_ms", "integer", (c) => c.notNull())
        .addColumn("claimed", "integer", (c) => c.notNull())
        .execute();
    },
  },
  // The event stream (GET /v1/queues/:queue/events): each entry's job transitions per queue, in
  // log order, and how far trimming has gone per queue ('' for the whole log).
  "014_events": {
    async up(db: AnyDb) {
      await db.schema.createTable("events")
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("at_ms", "integer", (c) => c.notNull())
        .addColumn("n", "integer", (c) => c.notNull())
        .addColumn("total", "integer", (c) => c.notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("events_pk", ["idx", "queue"])
        .modifyEnd(sql`WITHOUT ROWID`)
        .execute();
      await db.schema.createIndex("events_queue").on("events").columns(["queue", "idx"])
        .execute();
      await db.schema.createTable("events_trimmed")
        .addColumn("queue", "text", (c) => c.primaryKey())
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("total", "integer", (c) => c.notNull())
        .execute();
    },
  },
  // Flows (api.md part 2): a job may wait for others ('waiting' until they end); job_deps holds
  // the pending edges by dependency, so a job's end finds its dependents without a scan.
  "015_flows": {
    async up(db: AnyDb) {
      await db.schema.alterTable("jobs").addColumn("depends_on", "text").execute();
      await db.schema.alterTable("jobs")
        .addColumn("deps_left", "integer", (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable("jobs").addColumn("on_failure", "text").execute();
      await db.schema.createTable("job_deps")
        .addColumn("dep_id", "text", (c) => c.notNull())
        .addColumn("job_id", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("job_deps_pk", ["dep_id", "job_id"])
        .modifyEnd(sql`WITHOUT ROWID`)
        .execute();
      // A waiting job is unfinished too: it holds its uniqueKey.
      await db.schema.dropIndex("jobs_unique").execute();
      await sql`CREATE UNIQUE INDEX jobs_unique ON jobs (queue, unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('ready', 'delayed', 'leased', 'waiting')`
        .execute(db);
    },
  },
  // A job's end settles at most a bounded number of its dependents an entry; dep_ends holds, oldest
  // first, the ends whose dependents are not all settled yet (the next entries go on with them).
  "016_dependency_settles": {
    async up(db: AnyDb) {
      await db.schema.createTable("dep_ends")
        .addColumn("seq", "integer", (c) => c.primaryKey())
        .addColumn("dep_id", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .execute();
    },
  },
  // Jobs stored under their seq (INTEGER PRIMARY KEY: the rowid; a job's id `<index>-<k>` is seq
  // index * 10,000 + k, src/queue/job_ids.ts): the id's own b-tree goes, so an enqueue writes one
  // index less and a lookup by id is one search. The table is rebuilt, columns in their order,
  // its indexes made again as they were.
  "017_jobs_by_seq": {
    async up(db: AnyDb) {
      const { rows: indexes } = await sql<{ sql: string }>`SELECT sql FROM sqlite_schema
        WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL`.execute(db);
      await sql`CREATE TABLE jobs_by_seq ("id" text not null, "queue" text not null,
        "state" text not null, "priority" integer not null, "seq" integer primary key,
        "payload" text not null, "result" text, "last_error" text, "attempts" integer not null,
        "max_attempts" integer not null, "available_at" integer not null, "lease" text,
        "lease_expires_at" integer, "worker" text, "idempotency_key" text,
        "created_at" integer not null, "updated_at" integer not null, "finished_at" integer,
        "progress" text, "unique_key" text, "expire_at" integer,
        "grp" text default '' not null, "depends_on" text, "deps_left" integer default 0 not null,
        "on_failure" text)`.execute(db);
      // (seq from the id, as every enqueue has set it: so every row is found by its id)
      await sql`INSERT INTO jobs_by_seq SELECT id, queue, state, priority,
        CAST(substr(id, 1, instr(id, '-') - 1) AS INTEGER) * 10000
          + CAST(substr(id, instr(id, '-') + 1) AS INTEGER),
        payload, result, last_error, attempts, max_attempts, available_at, lease,
        lease_expires_at, worker, idempotency_key, created_at, updated_at, finished_at, progress,
        unique_key, expire_at, grp, depends_on, deps_left, on_failure FROM jobs ORDER BY 5`
        .execute(db);
      await sql`DROP TABLE jobs`.execute(db);
      await sql`ALTER TABLE jobs_by_seq RENAME TO jobs`.execute(db);
      for (const index of indexes) await sql.raw(index.sql).execute(db);
    },
  },
  // Long payloads kept apart from their jobs' rows (src/queue/job_payloads.ts), so that a change
  // of a job rewrites a small row; the rows already stored keep theirs.
  "018_job_payloads": {
    async up(db: AnyDb) {
      await db.schema.createTable("job_payloads")
        .addColumn("seq", "integer", (c) => c.primaryKey())
        .addColumn("payload", "text", (c) => c.notNull())
        .execute();
    },
  },
  // A change of groupConcurrency sets the groups' active flags again a bounded number an entry
  // (src/queue/groups.ts); a queue whose groups are not all done yet has a row here.
  "019_group_recaps": {
    async up(db: AnyDb) {
      await db.schema.createTable("group_recaps")
        .addColumn("queue", "text", (c) => c.primaryKey())
        .addColumn("after_seq", "integer", (c) => c.notNull())
        .execute();
    },
  },
  // The image sent to followers behind the log gets a row of its own: its index may be past the
  // log's start (raft_snapshot), so making one for a follower compacts nothing.
  "020_image_row": {
    async up(db: AnyDb) {
      await db.schema.createTable("raft_image")
        .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("term", "integer", (c) => c.notNull())
        .addColumn("membership", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("size_bytes", "integer", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .execute();
      await sql`INSERT INTO raft_image (id, idx, term, membership, name, size_bytes, sha256)
        SELECT 1, idx, term, membership, image, size_bytes, sha256 FROM raft_snapshot
        WHERE image IS NOT NULL AND sha256 IS NOT NULL AND size_bytes >= 0`.execute(db);
      await db.schema.alterTable("raft_snapshot").dropColumn("image").execute();
      await db.schema.alterTable("raft_snapshot").dropColumn("sha256").execute();
      await db.updateTable("raft_snapshot").set({ size_bytes: -1 }).execute();
    },
  },
  // Runs of plain ready jobs kept as one row until claimed (src/queue/ready_runs.ts): a batch's
  // enqueue writes a run and its payloads, not a row and two index entries a job. Runs are found
  // in claim order and, for listings, newest first.
  "021_ready_runs": {
    async up(db: AnyDb) {
      await db.schema.createTable("ready_runs")
        .addColumn("first_seq", "integer", (c) => c.primaryKey())
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("available_at", "integer", (c) => c.notNull())
        .addColumn("max_attempts", "integer", (c) => c.notNull())
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addColumn("next_seq", "integer", (c) => c.notNull())
        .addColumn("end_seq", "integer", (c) => c.notNull())
        .addColumn("payloads_id", "integer", (c) => c.notNull())
        .execute();
      await sql`CREATE INDEX ready_runs_claim
        ON ready_runs (queue, priority DESC, available_at, first_seq)`.execute(db);
      await db.schema.createIndex("ready_runs_list").on("ready_runs")
        .columns(["queue", "first_seq"]).execute();
      await db.schema.createTable("run_payloads")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("end_seq", "integer", (c) => c.notNull())
        .addColumn("texts", "text", (c) => c.notNull())
        .addColumn("ends", "text", (c) => c.notNull())
        .execute();
    },
  },
  // An events row may hold runs: one tuple for the same transition of jobs of consecutive seqs
  // (src/queue/events.ts, StoredRun). No table changes; the version moves so that a binary that
  // would read a run as one event refuses this database and its images.
  "022_event_runs": {
    async up() {},
  },
};

class StaticProvider implements MigrationProvider {
  constructor(readonly all: Record<string, Migration>) {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(this.all);
  }
}

export const schemaVersion = Object.keys(migrations).length;

/**
 * Brings the schema up to date. A file whose recorded migrations include one this build does
 * not know was written by a newer raftq: it is refused, untouched.
 */
export async function migrate(
  db: AnyDb,
  available: Record<string, Migration> = migrations,
): Promise<void> {
  const hasTable = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (hasTable.some((t) => t.name === "kysely_migration")) {
    const done = await db.selectFrom("kysely_migration").select("name").execute();
    const unknown = done.map((r) => r.name as string).filter((n) => !(n in available));
    if (unknown.length > 0) {
      throw new StartupError(
        `the data directory was written by a newer raftq (schema ${
          unknown.sort().at(-1)
        }); this build knows schema ${Object.keys(available).length}: upgrade raftq`,
      );
    }
  }
  const migrator = new Migrator({ db, provider: new StaticProvider(available) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new StartupError(
      `schema migration ${failed} failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}
