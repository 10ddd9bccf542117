// The simulated network: delays, drops, duplicates, reordering and (asymmetric) partitions.

import type { Message, NodeId } from "../../src/raft/mod.ts";
import type { Prng } from "./prng.ts";

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Usual one-way delay range in ms. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability of a long delay (up to longDelayMs), which reorders messages. */
  longDelayRate: number;
  longDelayMs: number;
}

interface InFlight {
  at: number;
  seq: number;
  msg: Message;
  /** Taken out of order by takeDueFor; skipped when it reaches the top. */
  taken?: boolean;
}

/** A min-heap of messages ordered by delivery time, then by send order. */
export class Network {
  #heap: InFlight[] = [];
  #seq = 0;
  /** Directed links that drop everything: "from>to". */
  #cut = new Set<string>();
  faults: NetworkFaults;
  sent = 0;
  dropped = 0;

  constructor(readonly rng: Prng, faults: NetworkFaults) {
    this.faults = faults;
  }

  send(msg: Message, now: number): void {
    this.sent++;
    const f = this.faults;
    if (this.rng.chance(f.dropRate)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(f.duplicateRate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const delay = this.rng.chance(f.longDelayRate)
        ? this.rng.range(f.maxDelayMs, f.longDelayMs)
        : this.rng.range(f.minDelayMs, f.maxDelayMs);
      this.#push({ at: now + delay, seq: this.#seq++, msg });
    }
  }

  /** Removes and returns the next message due at or before `now`, if any. */
  nextDue(now: number): Message | undefined {
    while (this.#heap.length > 0 && this.#heap[0].at <= now) {
      const item = this.#pop();
      if (item.taken) continue;
      if (this.#cut.has(`${item.msg.from}>${item.msg.to}`)) {
        this.dropped++;
        continue;
      }
      return item.msg;
    }
    return undefined;
  }

  /**
   * Removes and returns a message for `to` that is due by `now`, wherever it sits in the heap
   * (used to deliver a message to a node in the middle of its Ready, as the real loop may).
   */
  takeDueFor(to: NodeId, now: number): Message | undefined {
    for (const item of this.#heap) {
      if (item.taken || item.msg.to !== to || item.at > now) continue;
      item.taken = true;
      if (this.#cut.has(`${item.msg.from}>${item.msg.to}`)) return undefined;
      return item.msg;
    }
    return undefined;
  }

  cut(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Splits `group` from everyone else in both directions. */
  isolate(group: readonly NodeId[], all: readonly NodeId[]): void {
    for (const a of group) {
      for (const b of all) {
        if (group.includes(b)) continue;
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  healAll(): void {
    this.#cut.clear();
  }

  get partitioned(): boolean {
    return this.#cut.size > 0;
  }

  get inFlight(): number {
    return this.#heap.length;
  }

  #less(i: number, j: number): boolean {
    const a = this.#heap[i];
    const b = this.#heap[j];
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(item: InFlight): void {
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): InFlight {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(l, m)) m = l;
        if (r < h.length && this.#less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
