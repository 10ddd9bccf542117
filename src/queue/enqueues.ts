// Enqueue, merged enqueues and flows applied: keys checked, rows inserted in runs, all or nothing.

import { BulkInsert } from "../storage/bulk_insert.ts";
import type { IdempotencyTable, JobDepsTable, JobsTable, JobState } from "../storage/schema.ts";
import { finishedStates, type FlowJob, type NewJob } from "./commands.ts";
import { jobId, jobSeq } from "./job_ids.ts";
import type { JobPayloads } from "./job_payloads.ts";
import {
  type EnqueueRun,
  isPlainJob,
  isPlainRow,
  jobParams,
  newEnqueueRun,
  newJobRow,
  plainRowParams,
  plainRowValues,
} from "./job_rows.ts";
import { type ApplyError, type ApplyResult, refusal } from "./results.ts";
import type { Transitions } from "./transitions.ts";

export const idempotencyWindowMs = 24 * 60 * 60 * 1000;
/** What jobs get when neither they nor their queue's config say. */
export const defaultMaxAttempts = 5;

type Enqueued = Extract<ApplyResult, { type: "enqueued" }>["jobs"][number];

/**
 * The jobs one enqueue adds, counted as they are added: the ready ones by group, in the order
 * each group first comes (the order their counts move in), and the delayed and the waiting.
 */
class NewJobTally {
  readonly readyByGroup = new Map<string, number>();
  delayed = 0;
  waiting = 0;

  add(grp: string, state: JobState): void {
    if (state === "ready") this.readyByGroup.set(grp, (this.readyByGroup.get(grp) ?? 0) + 1);
    else if (state === "delayed") this.delayed++;
    else if (state === "waiting") this.waiting++;
  }
}

/** What every job of one enqueue shares: its queue and entry, its dependencies' states, defaults. */
interface EnqueueBatch {
  queue: string;
  index: number;
  deps: ReadonlyMap<string, JobState>;
  maxAttempts: number;
}

/** The enqueue commands, applied inside QueueStateMachine's transaction. */
export class Enqueues {
  readonly #insertJobs: BulkInsert<JobsTable>;
  /** Rows of plain jobs (isPlainRow), which bind 13 values instead of 25. */
  readonly #insertPlainRows: BulkInsert<JobsTable>;
  /**
   * The dependency edges of the jobs being enqueued, written together at the end of the enqueue,
   * or of the flow (a flow of 10,000 edges wrote them one statement each: 97–111 ms to apply).
   */
  #edges: JobDepsTable[] = [];
  /** While a flow is applied: the states of its jobs so far, which its later jobs depend on. */
  #flow: Map<string, JobState> | null = null;

  constructor(readonly t: Transitions, readonly payloads: JobPayloads) {
    const k = t.db.kysely;
    this.#insertJobs = new BulkInsert((rows) => k.insertInto("jobs").values(rows), jobParams);
    this.#insertPlainRows = new BulkInsert(
      (rows) => k.insertInto("jobs").values(rows.map(plainRowValues)),
      plainRowParams,
    );
  }

  /**
   * Creates a DAG of jobs in one entry, all or nothing: each queue's maxDepth is checked for all
   * of its jobs first, then the jobs are enqueued in order, each waiting for the earlier ones it
   * names (by their ids, which a deduplicated job gives as the job it repeats).
   */
  flow(jobs: FlowJob[], index: number): ApplyResult {
    const byQueue = new Map<string, NewJob[]>();
    for (const f of jobs) {
      (byQueue.get(f.queue) ?? byQueue.set(f.queue, []).get(f.queue)!).push(f.job);
    }
    for (const [queue, queued] of byQueue) {
      const full = this.#overDepth(queue, queued);
      if (full) return full;
    }
    const deps = this.#dependencyStates(jobs.flatMap((f) => f.job.dependsOn ?? []));
    if (!(deps instanceof Map)) return deps;
    const ids: string[] = [];
    this.#edges = [];
    this.#flow = new Map();
    try {
      jobs.forEach((f, k) => {
        const dependsOn = [...(f.job.dependsOn ?? []), ...f.after.map((a) => ids[a])];
        const job = dependsOn.length > 0 ? { ...f.job, dependsOn } : f.job;
        const r = this.enqueue(f.queue, [job], index, k);
        if (r.type !== "enqueued") {
          throw new Error(`flow job ${k} was refused: ${JSON.stringify(r)}`);
        }
        ids.push(r.jobs[0].id);
        this.#flow!.set(r.jobs[0].id, r.jobs[0].state);
      });
    } finally {
      this.#flow = null;
    }
    // (no job of the flow is told of an end before this: each ended one ended in its enqueue)
    this.#writeEdges();
    return { type: "flowCreated", ids };
  }

  /**
   * Requests merged into one entry: each part enqueued on its own (its own all-or-nothing, its own
   * answer). The rows and ready groups of plain parts (no keys, no dependencies: nothing read back
   * before the entry ends) wait in one run, written with the next part that is not plain and at
   * the end: one multi-row insert and one update a group for the lot, the same rows, counts and
   * group turns as part by part.
   */
  parts(queue: string, jobs: NewJob[], parts: number[], index: number): ApplyResult {
    const run = newEnqueueRun();
    let offset = 0;
    const answers = parts.map((n) => {
      const part = jobs.slice(offset, offset + n);
      const at = offset;
      offset += n;
      if (part.every(isPlainJob)) return this.enqueue(queue, part, index, at, run);
      this.#writeRun(queue, run);
      return this.enqueue(queue, part, index, at);
    });
    this.#writeRun(queue, run);
    return { type: "parts", parts: answers };
  }

  /**
   * Enqueues `jobs` (their ids `<index>-<offset + k>`) in multi-row inserts, all or nothing: a
   * queue at maxDepth or a dependency that does not exist refuses the whole batch. A job with
   * dependencies not ended yet starts `waiting`. Given a `run` (plain jobs only), the rows and
   * ready groups join it for the caller to write; the counts move at once, so the next part's
   * maxDepth check sees these jobs.
   */
  enqueue(queue: string, jobs: NewJob[], index: number, offset = 0, run?: EnqueueRun): ApplyResult {
    if (!this.#flow) this.#edges = [];
    const full = this.#overDepth(queue, jobs);
    if (full) return full;
    const deps = this.#dependencyStates(jobs.flatMap((j) => j.dependsOn ?? []));
    if (!(deps instanceof Map)) return deps;
    const defaultAttempts = this.t.settings.get(queue).config.maxAttempts ?? defaultMaxAttempts;
    const batch: EnqueueBatch = { queue, index, deps, maxAttempts: defaultAttempts };
    const out: Enqueued[] = [];
    const added = new NewJobTally();
    const failed: [JobsTable, string][] = [];
    const own = run ?? newEnqueueRun();
    const flush = () => this.#writeRun(queue, own);
    jobs.forEach((job, k) => {
      const seen = this.#duplicateOf(queue, job, flush);
      if (seen) return out.push(seen);
      const { row, why } = this.#add(batch, job, offset + k);
      own.rows.push(row);
      added.add(row.grp, row.state);
      if (why) failed.push([row, why]);
      out.push({ id: row.id, state: why ? "dead" : row.state, deduplicated: false });
    });
    this.#countNew(queue, added, own);
    if (!run) flush();
    if (!this.#flow) this.#writeEdges();
    // (a dependency had already failed: the job ends at once, after its enqueue is counted)
    for (const [row, reason] of failed) this.t.end(row, "dead", null, reason);
    return { type: "enqueued", jobs: out };
  }

  /**
   * A new job's row, its dependency edges and idempotency key recorded, its event written; `why`:
   * a dependency that already failed it (the row is written first, then ended dead).
   */
  #add(batch: EnqueueBatch, job: NewJob, k: number): { row: JobsTable; why: string | null } {
    const t = this.t;
    const { queue, index } = batch;
    const now = t.now;
    const id = jobId(index, k);
    const seq = jobSeq(index, k);
    const start = job.dependsOn
      ? this.#dependencyStart(job, batch.deps)
      : { left: [], failed: null };
    const waits = start.left.length > 0 || start.failed !== null;
    const state: JobState = waits ? "waiting" : job.delayMs > 0 ? "delayed" : "ready";
    const maxAttempts = job.maxAttempts ?? batch.maxAttempts;
    const row = newJobRow(id, queue, state, seq, job, now, maxAttempts, start.left.length);
    t.due.lower(state === "delayed" ? row.available_at : null);
    t.due.lower(row.expire_at);
    for (const dep of start.left) this.#edges.push({ dep_id: dep, job_id: id });
    if (job.idempotencyKey !== undefined) {
      const expires = now + (job.idempotencyWindowMs ?? idempotencyWindowMs);
      t.run(t.q.saveIdem({ queue, key: job.idempotencyKey, jobId: id, now, expires }));
    }
    t.tallies.enqueued++;
    t.events.record(queue, "enqueued", row, state);
    return { row, why: start.failed };
  }

  /** Inserts the edges gathered so far (see #edges). */
  #writeEdges(): void {
    this.t.deps.addAll(this.#edges);
    this.#edges = [];
  }

  /**
   * Writes a run's rows (a long enough stretch of plain ready jobs as a ready run, see
   * ReadyRuns), then moves its ready jobs into their groups (first seen, first).
   */
  #writeRun(queue: string, run: EnqueueRun): void {
    const rows = run.rows.length > 0 ? this.t.runs.keep(run.rows) : run.rows;
    if (rows.length > 0) {
      this.payloads.setApart(rows);
      const insert = rows.every(isPlainRow) ? this.#insertPlainRows : this.#insertJobs;
      insert.run(this.t.db.conn, rows);
    }
    const cap = this.t.settings.get(queue).config.groupConcurrency;
    for (const [grp, n] of run.readyByGroup) this.t.groups.adjust(queue, grp, n, 0, cap, false);
    run.rows = [];
    run.readyByGroup.clear();
  }

  /** The state of each job `ids` names, looked up once; a not_found refusal if one is missing. */
  #dependencyStates(ids: readonly string[]): Map<string, JobState> | ApplyError {
    const states = new Map<string, JobState>();
    for (const id of new Set(ids)) {
      const inFlow = this.#flow?.get(id);
      if (inFlow !== undefined) {
        states.set(id, inFlow);
        continue;
      }
      const dep = this.t.job(id);
      if (!dep) return refusal("not_found", `job ${id} in dependsOn does not exist`);
      states.set(id, dep.state);
    }
    return states;
  }

  /**
   * How a new job with `dependsOn` starts (`states`: its dependencies' states): waiting for those
   * not ended yet, dead at once when one already failed (and it does not ignore failures), else as
   * any job.
   */
  #dependencyStart(
    job: NewJob,
    states: ReadonlyMap<string, JobState>,
  ): { left: string[]; failed: string | null } {
    const left: string[] = [];
    let failed: string | null = null;
    for (const id of new Set(job.dependsOn ?? [])) {
      const state = states.get(id)!;
      if (!(finishedStates as readonly string[]).includes(state)) left.push(id);
      else if (state !== "done" && job.onFailure !== "ignore") {
        failed ??= `dependency ${id} ended ${state}`;
      }
    }
    return { left, failed };
  }

  /** A refusal when the jobs' new ones would take `queue` past its maxDepth; else null. */
  #overDepth(queue: string, jobs: readonly NewJob[]): ApplyError | null {
    const maxDepth = this.t.settings.get(queue).config.maxDepth;
    if (maxDepth === undefined) return null;
    const depth = this.t.counts.unfinished(queue);
    const n = this.#newJobCount(queue, jobs);
    if (n === 0 || depth + n <= maxDepth) return null;
    return refusal(
      "queue_full",
      `queue ${queue} holds ${depth} unfinished jobs and its maxDepth is ${maxDepth}: ${n} more do not fit`,
    );
  }

  /** How many of `jobs` an enqueue would add (the others repeat an idempotency or unique key). */
  #newJobCount(queue: string, jobs: readonly NewJob[]): number {
    const keys = new Set<string>();
    const uniques = new Set<string>();
    let n = 0;
    for (const { idempotencyKey: key, uniqueKey: unique } of jobs) {
      if (key !== undefined) {
        if (keys.has(key)) continue;
        keys.add(key);
        if (this.#idempotent(queue, key)) continue;
      }
      if (unique !== undefined) {
        if (uniques.has(unique) || this.#unfinishedWith(queue, unique)) continue;
        uniques.add(unique);
      }
      n++;
    }
    return n;
  }

  /** The job an idempotency key names while its window is open, if any. */
  #idempotent(queue: string, key: string): IdempotencyTable | undefined {
    const seen = this.t.all<IdempotencyTable>(this.t.q.idem({ queue, key }))[0];
    return seen && seen.expires_at > this.t.now ? seen : undefined;
  }

  /** The queue's unfinished job holding `uniqueKey`, if any (the jobs_unique index). */
  #unfinishedWith(queue: string, key: string): { id: string; state: JobState } | undefined {
    return this.t.all<{ id: string; state: JobState }>(this.t.q.unfinishedByKey({ queue, key }))[0];
  }

  /**
   * The answer for a job whose idempotency key (within its window) or unique key (while its job
   * is unfinished) was seen; else null. The rows gathered so far are written first, so a key
   * repeated within the batch finds its first job.
   */
  #duplicateOf(
    queue: string,
    job: NewJob,
    flush: () => void,
  ): { id: string; state: JobState; deduplicated: true } | null {
    if (job.idempotencyKey !== undefined) {
      flush();
      const seen = this.#idempotent(queue, job.idempotencyKey);
      if (seen) {
        const first = this.t.job(seen.job_id);
        return { id: seen.job_id, state: first?.state ?? "done", deduplicated: true };
      }
    }
    if (job.uniqueKey !== undefined) {
      flush();
      const held = this.#unfinishedWith(queue, job.uniqueKey);
      if (held) return { id: held.id, state: held.state, deduplicated: true };
    }
    return null;
  }

  /**
   * Counts new jobs by state; ready ones join `run` by group, for #writeRun to move into their
   * groups (a batch of 1,000 writes its group's row once).
   */
  #countNew(queue: string, added: NewJobTally, run: EnqueueRun) {
    let ready = 0;
    for (const [grp, n] of added.readyByGroup) {
      run.readyByGroup.set(grp, (run.readyByGroup.get(grp) ?? 0) + n);
      ready += n;
    }
    if (ready > 0) {
      this.t.counts.move(queue, null, "ready", ready);
      this.t.woken.add(queue);
    }
    if (added.delayed > 0) this.t.moved(queue, null, "delayed", added.delayed);
    if (added.waiting > 0) this.t.moved(queue, null, "waiting", added.waiting);
  }
}
