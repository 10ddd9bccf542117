// What a leader knows of one follower's log: match/next indexes and the replication flow state.

/**
 * probe: one append at a time until the follower's position is found;
 * replicate: pipelined appends, up to the in-flight window;
 * snapshot: the follower needs a snapshot; appends wait until it is installed.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  /** Highest index known to be on the follower's disk. Invariant: match < next. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an append was sent and no answer has come yet (paused until heartbeat). */
  probeSent = false;
  /** In replicate state: each unacknowledged append's last index and entry bytes, oldest first. */
  #inflights: { last: number; bytes: number }[] = [];
  /** The sum of their bytes. */
  inflightBytes = 0;
  /** The leader's tick count when this peer last answered (or joined, or this leader began). */
  heardTick = 0;
  /** In snapshot state: the snapshot being sent, the next chunk offset, when it was last sent. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  snapshotSentTick = 0;
  /** Highest ReadIndex round this peer has acknowledged. */
  readSeqAcked = 0;

  constructor(next: number) {
    this.next = next;
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot; resume just after it.
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.reset("probe");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset("replicate");
  }

  becomeSnapshot(index: number, tick: number): void {
    this.reset("snapshot");
    this.pendingSnapshot = index;
    this.snapshotOffset = 0;
    this.snapshotSentTick = tick;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.#inflights = [];
    this.inflightBytes = 0;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
  }

  /** Records a successful append up to `index`; false when it tells nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of prevIndex `rejected`; `hint` is where the follower's log may
   * agree. Returns false for a stale rejection that must be ignored.
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      // Pipelined appends: a rejection of an index at or below match is stale.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probing: only the answer to the append we sent (prevIndex == next - 1) counts, and
    // never one at or below match (a duplicate or a peer that lost its disk would ping-pong).
    if (this.next - 1 !== rejected || rejected <= this.match) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append sent with last index `last`, of `count` entries and `bytes` of them. */
  sentEntries(last: number, count: number, bytes: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = last + 1;
        this.#inflights.push({ last, bytes });
        this.inflightBytes += bytes;
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /** Forgets in-flight appends acknowledged up to `index`. */
  freeInflightsTo(index: number): void {
    let k = 0;
    while (k < this.#inflights.length && this.#inflights[k].last <= index) k++;
    for (const { bytes } of this.#inflights.splice(0, k)) this.inflightBytes -= bytes;
  }

  /** Forgets the oldest in-flight append (lost, perhaps), so another may go. */
  freeFirstInflight(): void {
    const first = this.#inflights.shift();
    if (first) this.inflightBytes -= first.bytes;
  }

  /** Whether the leader must not send more appends to this peer now. */
  isPaused(maxInflight: number, maxInflightBytes: number): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.#inflights.length >= maxInflight || this.inflightBytes >= maxInflightBytes;
      case "snapshot":
        return true;
    }
  }
}
