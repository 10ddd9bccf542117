// When finished jobs fall past their queue's retention, kept per queue so that neither the due
// check nor a tick reads every queue's finished jobs.

import type { QueueCounts } from "./queue_counts.ts";

/**
 * Each queue's earliest finished job (`finished_at`), read from the jobs_finished_queue index
 * again only for the queues whose finished jobs changed since (QueueCounts tells which); all of
 * them, in one statement, after a start, a rollback or a snapshot install. In memory: one number
 * per queue that holds finished jobs, O(queues) as the counts are.
 */
export class RetentionDue {
  readonly #earliest = new Map<string, number>();
  #unread = true;

  constructor(
    readonly counts: Pick<QueueCounts, "takeFinishedChanges">,
    /** The queue's earliest finished_at, null when it holds no finished job. */
    readonly readEarliest: (queue: string) => number | null,
    /** readEarliest of every queue that may hold finished jobs. */
    readonly readAll: () => { queue: string; t: number | null }[],
  ) {}

  /** Something changed that the changes do not tell (a rollback, an install): read all again. */
  forget(): void {
    this.#unread = true;
  }

  /** The first moment a queue has a finished job past its retention; null when none ever will. */
  nextMs(retentionOf: (queue: string) => number): number | null {
    let next: number | null = null;
    for (const [queue, earliest] of this.#current()) {
      const at = earliest + retentionOf(queue);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** The queues holding a job that finished before `nowMs` less their retention, by name. */
  dueQueues(nowMs: number, retentionOf: (queue: string) => number): string[] {
    const due: string[] = [];
    for (const [queue, earliest] of this.#current()) {
      if (earliest < nowMs - retentionOf(queue)) due.push(queue);
    }
    return due.sort();
  }

  #current(): Map<string, number> {
    const changed = this.counts.takeFinishedChanges();
    if (this.#unread) {
      this.#unread = false;
      this.#earliest.clear();
      for (const { queue, t } of this.readAll()) if (t !== null) this.#earliest.set(queue, t);
    }
    // After a read of all as well: readAll lists the queues that queue_counts held at the last
    // apply's end, and the apply under way (the first after an install or a rollback) may have
    // finished jobs in a queue it did not list: left out, this replica would not purge that
    // queue where the others do.
    for (const queue of changed) this.#read(queue);
    return this.#earliest;
  }

  #read(queue: string): void {
    const earliest = this.readEarliest(queue);
    if (earliest === null) this.#earliest.delete(queue);
    else this.#earliest.set(queue, earliest);
  }
}
