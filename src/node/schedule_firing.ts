// The leader's side of schedules: each due slot proposed once, in batches that merge into one entry.

import { type FireCommand, firingsPerEntry } from "../queue/commands.ts";
import type { ApplyResult } from "../queue/results.ts";
import { firing } from "../queue/schedule_slots.ts";
import { scheduleView } from "../queue/schedules.ts";
import type { SchedulesTable } from "../storage/schema.ts";

/** What firing needs of the node around it. */
export interface FiringPorts {
  isLeader(): boolean;
  /** This leader has committed an entry of its term, so its schedules are current. */
  committedInTerm(): boolean;
  term(): number;
  /** The queue clock as this leader would stamp an entry now. */
  nowMs(): number;
  /** Schedules due by `nowMs`, earliest first, at most `limit`. */
  due(nowMs: number, limit: number): SchedulesTable[];
  propose(cmd: FireCommand): Promise<ApplyResult>;
}

/** What became of one proposed firing. */
type Outcome = "fired" | "failed" | "lost";

/**
 * A leader proposes each due schedule's firing, its slot computed here from the leader's clock
 * (replicas apply the slot the entry carries). One proposal per schedule in flight; the due
 * schedules come firingsPerEntry at a time, proposed in one turn so that they merge into one
 * entry (an entry that fails whole fails them together: the next batch then goes an entry a
 * firing, see #oneByOne). As one is applied the next is proposed; while batches are slow (a
 * busy leader, `busyBatchMs`) two are in flight at once: one at a time, a leader busy with a
 * batch fill fired 10,000 schedules of one minute over 10 s, each batch behind the fill's
 * entries (4 s with two; on an idle leader two cost writers 15 ms at the p99 and gained little).
 * A slot that came due since this node began to lead in its term fires however late this backlog
 * makes it; only slots from before (an outage) can pass as missed.
 */
export class ScheduleFiring {
  /** Schedules whose firing this leader has proposed and not yet seen applied. */
  readonly #firing = new Set<string>();
  /** The last batch of firings failed whole: the next goes one by one. */
  #alone = false;
  /** Batches of firings proposed and not yet settled. */
  #batches = 0;
  /** How long the last batch of firings took from its proposal to its apply. */
  #lastBatchMs = 0;
  /** The term this node leads in and the queue clock when it first fired in it (see firing). */
  #leadingSince: { term: number; ms: number } | null = null;

  constructor(readonly ports: FiringPorts, readonly busyBatchMs: number) {}

  /** Proposes the due firings this leader has not proposed yet (a due check, and each apply). */
  maybeFire(): void {
    const p = this.ports;
    if (!p.isLeader() || !p.committedInTerm()) return;
    const nowMs = p.nowMs();
    if (this.#leadingSince?.term !== p.term()) this.#leadingSince = { term: p.term(), ms: nowMs };
    const sinceMs = this.#leadingSince.ms;
    const inFlight = this.#lastBatchMs > this.busyBatchMs ? 2 : 1;
    while (this.#batches < inFlight) {
      // (those in flight are still due, and first: the next batch is behind them)
      const batch = p.due(nowMs, firingsPerEntry + this.#firing.size)
        .filter((row): row is Due => !this.#firing.has(row.id) && row.next_run_at !== null)
        .slice(0, firingsPerEntry).map((row) => firingOf(row, nowMs, sinceMs));
      if (batch.length === 0) return;
      this.#batches++;
      const settled = (moved: boolean) => {
        this.#batches--;
        // (a batch that moved nothing waits for the next due check: no loop of failures)
        if (moved) this.maybeFire();
      };
      if (this.#alone) return this.#oneByOne(batch, settled);
      this.#together(batch, settled);
    }
  }

  /** Proposes a batch's firings together, so that they merge into one entry. */
  #together(batch: FireCommand[], settled: (moved: boolean) => void): void {
    const startedMs = performance.now();
    let left = batch.length;
    let moved = 0;
    let failed = 0;
    for (const cmd of batch) {
      this.#fire(cmd, (outcome) => {
        if (outcome === "fired") moved++;
        if (outcome === "failed") failed++;
        if (--left > 0) return;
        // One firing that cannot be applied fails its whole entry: the next batch goes one by
        // one, so that it fails alone and the schedules behind it fire.
        if (failed === batch.length && batch.length > 1) this.#alone = true;
        this.#lastBatchMs = performance.now() - startedMs;
        settled(moved > 0);
      });
    }
  }

  /** Proposes one firing; `settled` hears whether it moved the schedule on. */
  #fire(cmd: FireCommand, settled: (outcome: Outcome) => void): void {
    // (a leader no more: the new one fires; a proposal here would be forwarded to it)
    if (!this.ports.isLeader()) {
      this.#firing.delete(cmd.id); // (#oneByOne holds its batch's ids)
      return settled("lost");
    }
    this.#firing.add(cmd.id);
    this.ports.propose(cmd)
      // "fired" moved the schedule's next run on; a lost proposal or a failed apply did not
      .then((r): Outcome => (r.type === "fired" ? "fired" : "failed"), (): Outcome => "lost")
      .then((outcome) => {
        this.#firing.delete(cmd.id);
        settled(outcome);
      });
  }

  /** Each firing an entry of its own, one after another; then batches again. */
  #oneByOne(batch: FireCommand[], settled: (moved: boolean) => void): void {
    for (const cmd of batch) this.#firing.add(cmd.id); // (a due check meanwhile skips them)
    const next = (k: number) => {
      if (k === batch.length) {
        this.#alone = false;
        return settled(false);
      }
      this.#fire(batch[k], () => next(k + 1));
    };
    next(0);
  }
}

/** A due schedule's row: one with a next run. */
type Due = SchedulesTable & { next_run_at: number };

/** A due schedule's firing at `nowMs`, its slot computed from the leader's clock. */
function firingOf(row: Due, nowMs: number, leadingSinceMs: number): FireCommand {
  let next: { slotMs: number | null; nextRunAt: number | null };
  try {
    next = firing(scheduleView(row), nowMs, leadingSinceMs);
  } catch {
    next = { slotMs: null, nextRunAt: null }; // a spec that no longer evaluates stops
  }
  return { type: "fire", id: row.id, dueMs: row.next_run_at, ...next };
}
