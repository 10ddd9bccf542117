// Runs simulator seeds with every node's state in a real SQLite data directory, written by the
// production SqliteLogStore.

import type { AppliedState } from "../../src/node/ports.ts";
import { encodeCommand, type QueueCommand } from "../../src/queue/commands.ts";
import { QueueStateMachine } from "../../src/queue/state_machine.ts";
import type { Entry, RaftInit, Ready, SnapshotChunk, SnapshotMeta } from "../../src/raft/mod.ts";
import type { Database } from "../../src/storage/database.ts";
import { type DataDir, openDataDir } from "../../src/storage/data_dir.ts";
import { SqliteLogStore } from "../../src/storage/log_store.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { inlineSteps } from "../../src/storage/image_worker.ts";
import { runSeed, type SimOptions, type SimResult } from "./simulation.ts";
import { chain, entryKey, type SmState } from "./state_machine.ts";
import type { SimStore, StoreObserver } from "./store.ts";

const zeroSm: SmState = { applied: 0, hash: 0, count: 0 };

/** The checker's chain after each index, as first applied anywhere in one run. */
type Chains = Map<number, SmState>;

/**
 * The production queue state machine under the simulator. For the checker it chains each entry
 * with the answer the queue gave it, so every replica must answer every command the same way.
 * Snapshot images hold the queue's tables only: an installing node takes the chain at the
 * image's index from `chains` (the checker still compares every replica's applied entries).
 */
class QueueMachine implements AppliedState<unknown> {
  readonly #queue: QueueStateMachine;

  constructor(
    db: Database,
    readonly holder: { sm: SmState },
    readonly chains: Chains,
    readonly onApply: (e: Entry, after: SmState) => void,
  ) {
    // Two dependents told an entry, so ends kept for later entries meet crashes and snapshots.
    // Runs of two plain jobs or more, so claims, cancels and images meet ready runs.
    this.#queue = new QueueStateMachine(db, { settlesPerEntry: 2, minRunJobs: 2 });
  }

  get appliedIndex(): number {
    return this.#queue.appliedIndex;
  }

  applyEntries(entries: readonly Entry[]): Map<number, unknown> {
    const results = this.#queue.applyEntries(entries);
    // A floor above a due moment would let this replica skip due work another one does.
    if (!this.#queue.dueFloorHolds()) throw new Error("the due floor is above a due moment");
    for (const e of entries) {
      const sm = this.holder.sm;
      if (e.index <= sm.applied) continue;
      const key = `${entryKey(e)}|${JSON.stringify(results.get(e.index) ?? null)}`;
      this.holder.sm = { applied: e.index, hash: chain(sm.hash, key), count: sm.count + 1 };
      if (!this.chains.has(e.index)) this.chains.set(e.index, this.holder.sm);
      this.onApply(e, this.holder.sm);
    }
    return results;
  }

  reload(): void {
    this.#queue.reload();
  }
}

/** Client writes the queue understands: every command kind, some aimed at jobs that exist. */
export function queueCommand(seq: number, stampMs: number): string {
  const job = (n: number) => ({
    payload: JSON.stringify({ seq: n }),
    delayMs: n % 3 === 0 ? 30 : 0,
    priority: n % 10,
    maxAttempts: 3,
    ...(n % 7 === 0 ? { idempotencyKey: `k${n % 50}`, idempotencyWindowMs: 1000 + n % 3000 } : {}),
    ...(n % 5 === 0 ? { uniqueKey: `u${n % 4}` } : {}),
    ...(n % 4 === 0 ? { ttlMs: 20 + (n % 60) } : {}),
    ...(n % 3 !== 1 ? { group: `g${n % 5}` } : {}),
  });
  const commands: QueueCommand[] = [
    { type: "enqueue", queue: "q", jobs: [job(seq)] },
    { type: "enqueue", queue: seq % 2 ? "q" : "r", jobs: [job(seq), job(seq + 1)] },
    { type: "claim", queue: "q", worker: "w", max: 2, leaseMs: 50 },
    // Plain jobs of one priority: a ready run (see ReadyRuns), its jobs' rows written at claims.
    {
      type: "enqueue",
      queue: "q",
      jobs: [0, 1, 2, 3].map((k) => ({
        payload: JSON.stringify({ seq, k }),
        delayMs: 0,
        priority: seq % 2,
        maxAttempts: 3,
      })),
    },
    // Requests merged into one entry (see mergeProposals): each part its own answer.
    { type: "enqueue", queue: "q", jobs: [job(seq), job(seq + 1), job(seq + 2)], parts: [1, 2] },
    {
      type: "flow",
      jobs: [
        { queue: "q", job: job(seq), after: [] },
        { queue: "r", job: { ...job(seq + 1), onFailure: "ignore" }, after: [0] },
        { queue: "q", job: job(seq + 2), after: [0, 1] },
      ],
    },
    {
      type: "enqueue",
      queue: "q",
      jobs: [{ ...job(seq), dependsOn: [`${seq - 1}-0`] }],
    },
    // Ids are `<log index>-<position>`: a guess that sometimes names a real job.
    { type: "ack", id: `${seq}-0`, lease: String(seq + 1), result: `{"ok":${seq}}` },
    { type: "nack", id: `${seq - 1}-0`, lease: String(seq), error: "no" },
    // A worker's ack that leases its next jobs in the same entry.
    {
      type: "ack",
      id: `${seq - 1}-1`,
      lease: String(seq),
      next: { queue: "q", worker: "w", max: 2, leaseMs: 50 },
    },
    { type: "cancel", id: `${seq - 2}-1` },
    { type: "tick", retentionMs: 100 },
    { type: "release", id: `${seq - 1}-1`, lease: String(seq), delayMs: seq % 2 ? 0 : 20 },
    { type: "progress", id: `${seq - 1}-0`, lease: String(seq), progress: `${seq}` },
    { type: "nack", id: `${seq - 1}-1`, lease: String(seq), final: true },
    // Worker commands merged into one entry, each with its own lease and answer.
    {
      type: "merged",
      cmds: [
        { type: "claim", queue: "q", worker: "w", max: 1, leaseMs: 50 },
        { type: "ack", id: `${seq - 2}-0`, lease: `${seq - 2}.000`, result: "1" },
        { type: "claim", queue: seq % 2 ? "q" : "r", worker: "v", max: 2 },
        { type: "release", id: `${seq - 3}-0`, lease: `${seq - 3}.002` },
        {
          type: "ack",
          id: `${seq}-1`,
          lease: String(seq - 1),
          next: { queue: "q", worker: "w", max: 1 },
        },
      ],
    },
    { type: "pause", queue: "q", paused: seq % 4 === 0 },
    {
      type: "configure",
      queue: seq % 2 ? "q" : "r",
      config: seq % 3 ? { groupConcurrency: 1 + seq % 2, rateLimit: { max: 3, perMs: 40 } } : {
        maxAttempts: 2,
        leaseMs: 1000,
        maxDepth: 40,
        concurrency: 4,
      },
    },
    { type: "retryDeadMany", queue: "q", limit: 3 },
    { type: "purge", queue: seq % 2 ? "q" : "r", state: seq % 3 ? "done" : "expired", limit: 5 },
    {
      type: "setSchedule",
      id: `s${seq % 3}`,
      spec: { queue: "q", everyMs: 40, payload: "1", overlap: "allow", catchUp: "none" },
      nextRunAt: Math.floor(stampMs / 40) * 40 + 40,
    },
    // A firing whose due slot is a guess: sometimes the schedule's next run, mostly stale.
    {
      type: "fire",
      id: `s${seq % 3}`,
      dueMs: Math.floor(stampMs / 40) * 40,
      slotMs: Math.floor(stampMs / 40) * 40,
      nextRunAt: Math.floor(stampMs / 40) * 40 + 40,
    },
    { type: "deleteSchedule", id: `s${(seq + 1) % 3}` },
    // Firings merged into one entry with a claim between them: each job numbered by its part.
    {
      type: "merged",
      cmds: [0, 1, 2].map((k) => {
        const slot = Math.floor(stampMs / 40) * 40 - 40 * (k % 2);
        return k === 1 ? { type: "claim", queue: "q", worker: "w", max: 1, leaseMs: 50 } : {
          type: "fire",
          id: `s${(seq + k) % 3}`,
          dueMs: slot,
          slotMs: slot,
          nextRunAt: slot + 40,
        };
      }),
    },
  ];
  return encodeCommand(commands[seq % commands.length], stampMs);
}

/**
 * The production store under the simulator, with the image steps run inline: a capture or an
 * install happens at once, its completion when the simulator says. Its writes are SQLite
 * transactions; its flush is completed by the simulator (no fsync: a file on tmpfs cannot lose
 * power, so a crash here is a process crash and keeps every committed transaction).
 */
class SqliteSimStore implements SimStore {
  readonly #storage: RaftStorage;
  readonly #log: SqliteLogStore;
  #sm: SmState;
  /** Bumped by a crash: a completion scheduled before it is dropped. */
  #generation = 0;

  constructor(
    readonly dataDir: DataDir,
    init: RaftInit,
    readonly scheduleFlush: (complete: () => void) => void,
    readonly observer: StoreObserver,
    readonly chains: Chains,
  ) {
    this.#storage = new RaftStorage(dataDir.db);
    this.#log = new SqliteLogStore(dataDir.db, this.#storage, inlineSteps);
    const stored = this.#storage.getMeta("sim_sm");
    this.#sm = stored ? JSON.parse(stored) as SmState : zeroSm;
    if (!stored) this.#storage.persist({ hardState: init.hardState, entries: init.entries });
  }

  get sm(): SmState {
    return this.#sm;
  }

  /** Kept in the same file, so it changes with the log (inside the write's transaction). */
  set sm(sm: SmState) {
    this.#sm = sm;
    this.#storage.setMeta("sim_sm", JSON.stringify(sm));
  }

  load(): RaftInit {
    const { hardState, snapshot, entries, image } = this.#storage.load();
    return { hardState, snapshot, entries, image, appliedIndex: this.#sm.applied };
  }

  write(rd: Ready, alongside: () => void): void {
    this.#log.write(rd, alongside);
    this.observer.persisted(rd, (i) => this.#storage.term(i));
  }

  /** Completes in the simulator's time, unless the node crashed first. */
  #later(fn: () => void): void {
    const generation = this.#generation;
    this.scheduleFlush(() => {
      if (generation === this.#generation) fn();
    });
  }

  install(meta: SnapshotMeta, chunks: readonly SnapshotChunk[], done: (error?: Error) => void) {
    this.#log.install(meta, chunks, (error) => {
      if (!error) {
        const sm = this.chains.get(meta.index);
        if (!sm) return done(new Error(`no chain known at ${meta.index}`));
        this.sm = sm;
        this.observer.installed(meta, sm);
      }
      this.#later(() => done(error));
    });
  }

  capture(done: (error: Error | null, index: number) => void): void {
    this.#log.capture((error, index) => this.#later(() => done(error, index)));
  }

  saveSnapshot(meta: SnapshotMeta): void {
    this.#log.saveSnapshot(meta);
  }

  discardCapture(): void {
    this.#log.discardCapture();
  }

  flush(done: (error?: Error) => void): void {
    this.scheduleFlush(() => done());
  }

  readSnapshotChunk(index: number, offset: number, maxBytes: number) {
    return this.#log.readSnapshotChunk(index, offset, maxBytes);
  }

  readEntries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.#storage.entries(lo, hi, maxBytes);
  }

  hasImage(index: number): boolean {
    return this.#log.hasImage(index);
  }

  compact(meta: SnapshotMeta): void {
    this.#log.compact(meta);
  }

  durableHolds(index: number, term: number): boolean {
    return this.#storage.snapshotMeta().index >= index || this.#storage.term(index) === term;
  }

  machine(onApply: (e: Entry, after: SmState) => void): AppliedState<unknown> {
    return new QueueMachine(this.dataDir.db, this, this.chains, (e, after) => {
      const covered = e.index <= this.#storage.snapshotMeta().index;
      if (!covered && this.#storage.term(e.index) !== e.term) this.observer.appliedUnwritten(e);
      onApply(e, after);
    });
  }

  crash(_powerLoss: boolean): void {
    this.#generation++;
    this.#log.discardCapture();
  }
}

/** Where the files go: tmpfs when the machine has one (fsync is then cheap), else the temp dir. */
function tempRoot(): string | undefined {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a pool of data directories first (opening is asynchronous; the simulation is not), then
 * runs the seed with each new node taking the next directory. Everything is removed afterwards.
 */
export async function runSeedOnSqlite(
  options: Omit<SimOptions, "makeStore">,
  // (members join by membership changes, more of them the longer the run: about 30 per 6,000 steps)
  poolSize = options.nodes + 30 + Math.ceil(options.steps / 100),
): Promise<SimResult> {
  const root = await Deno.makeTempDir({ dir: tempRoot(), prefix: "raftq-sim-" });
  const pool: DataDir[] = [];
  try {
    for (let k = 0; k < poolSize; k++) pool.push(await openDataDir(`${root}/node${k}`));
    let next = 0;
    const chains: Chains = new Map([[0, zeroSm]]);
    // Images of the queue are much larger than a hash's: bigger chunks, more time to heal.
    return runSeed({
      command: queueCommand,
      chunkBytes: [4096, 65536],
      ...options,
      livenessTicks: options.livenessTicks ?? 1000,
      makeStore: (_id, init, flush, observer) => {
        if (next >= pool.length) throw new Error("the SQLite pool is exhausted");
        return new SqliteSimStore(pool[next++], init, flush, observer, chains);
      },
    });
  } finally {
    for (const dd of pool) dd.close();
    await Deno.remove(root, { recursive: true });
  }
}
