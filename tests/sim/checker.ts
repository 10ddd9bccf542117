// Safety properties checked after every simulation step; a violation throws with a description.

import type {
  Entry,
  HardState,
  NodeId,
  Raft,
  ReadState,
  SnapshotMeta,
} from "../../src/raft/mod.ts";
import { entryKey, type SmState } from "./state_machine.ts";

export class SafetyViolation extends Error {}

function violated(what: string): never {
  throw new SafetyViolation(what);
}

/** What the checker keeps per node across crashes. */
interface NodeRecord {
  hardState: HardState;
  commit: number;
  applied: number;
}

export class Checker {
  /** Election safety: at most one leader per term. */
  #leaderOfTerm = new Map<number, NodeId>();
  /** Log matching: (index, term) identifies the entry and the term before it. */
  #entryAt = new Map<string, { key: string; prevTerm: number }>();
  /** State machine safety: what was applied at each index, and the state after it. */
  #appliedAt = new Map<number, { key: string; term: number; hash: number }>();
  #nodes = new Map<NodeId, NodeRecord>();
  /** Highest index known committed (someone applied it), with its term. */
  maxCommitted = { index: 0, term: 0 };
  /**
   * For each leader term, the highest entry its leader was seen to commit (index, entry term).
   * Leader completeness is about the term an entry was committed in, not the entry's own term: a
   * term-15 entry that a term-17 leader commits need not be in the log of term 16's leader.
   */
  #committedByLeaderOf = new Map<number, { index: number; term: number }>();
  /** Highest index of a client write acknowledged so far. */
  maxAckedWrite = 0;

  #record(id: NodeId): NodeRecord {
    let r = this.#nodes.get(id);
    if (!r) {
      r = { hardState: { term: 0, vote: "", commit: 0 }, commit: 0, applied: 0 };
      this.#nodes.set(id, r);
    }
    return r;
  }

  onLeader(id: NodeId, term: number): void {
    const other = this.#leaderOfTerm.get(term);
    if (other !== undefined && other !== id) {
      violated(`election safety: ${other} and ${id} are both leaders of term ${term}`);
    }
    this.#leaderOfTerm.set(term, id);
  }

  onHardState(id: NodeId, hs: HardState): void {
    const r = this.#record(id);
    const old = r.hardState;
    if (hs.term < old.term) {
      violated(`${id}: persisted term went back from ${old.term} to ${hs.term}`);
    }
    if (hs.term === old.term && old.vote !== "" && hs.vote !== old.vote) {
      violated(`${id}: changed its vote in term ${hs.term} from ${old.vote} to ${hs.vote}`);
    }
    r.hardState = hs;
  }

  /** Entries just made durable by `id`; `termAt` reads that node's log after the write. */
  onPersistEntries(
    id: NodeId,
    entries: readonly Entry[],
    termAt: (i: number) => number | undefined,
  ): void {
    for (const e of entries) {
      const prevTerm = termAt(e.index - 1);
      const key = `${e.index}:${e.term}`;
      const seen = this.#entryAt.get(key);
      const mine = { key: entryKey(e), prevTerm: prevTerm ?? -1 };
      if (!seen) {
        this.#entryAt.set(key, mine);
        continue;
      }
      if (seen.key !== mine.key) {
        violated(`log matching: ${id} has ${mine.key} at ${key}, another node has ${seen.key}`);
      }
      if (prevTerm !== undefined && seen.prevTerm !== -1 && seen.prevTerm !== prevTerm) {
        violated(
          `log matching: ${id} has term ${prevTerm} before ${key}, another has ${seen.prevTerm}`,
        );
      }
    }
  }

  onApply(id: NodeId, e: Entry, after: SmState): void {
    const r = this.#record(id);
    if (e.index !== r.applied + 1) {
      violated(`${id}: applied ${e.index} right after ${r.applied} (gap or repeat)`);
    }
    r.applied = e.index;
    const seen = this.#appliedAt.get(e.index);
    if (!seen) {
      this.#appliedAt.set(e.index, { key: entryKey(e), term: e.term, hash: after.hash });
    } else if (seen.key !== entryKey(e) || seen.term !== e.term || seen.hash !== after.hash) {
      violated(
        `state machine safety: ${id} applied ${
          entryKey(e)
        }@${e.term} at ${e.index}, another applied ${seen.key}@${seen.term}`,
      );
    }
    if (e.index > this.maxCommitted.index) this.maxCommitted = { index: e.index, term: e.term };
  }

  /**
   * An apply must reach the store after its entry: else a crash between them leaves the state
   * machine ahead of the log, and the next leader's snapshot takes the state machine back.
   */
  onAppliedUnwritten(id: NodeId, e: Entry): void {
    violated(`${id}: applied ${e.index}@${e.term} before writing it to its log`);
  }

  onSnapshotInstalled(id: NodeId, meta: SnapshotMeta, sm: SmState): void {
    const r = this.#record(id);
    if (meta.index < r.applied) {
      violated(`${id}: installed snapshot ${meta.index} behind applied ${r.applied}`);
    }
    const seen = this.#appliedAt.get(meta.index);
    if (seen && (seen.hash !== sm.hash || seen.term !== meta.term)) {
      violated(`state machine safety: ${id} installed a snapshot at ${meta.index} that differs`);
    }
    if (sm.applied !== meta.index) {
      violated(`${id}: snapshot data is at ${sm.applied}, meta says ${meta.index}`);
    }
    r.applied = meta.index;
  }

  /**
   * A restarted node resumes from its durable state machine. After a power loss it may have lost
   * applies no flush covered (they are replayed from the log: their entries were committed); after
   * a process crash it keeps all it applied.
   */
  onRestart(id: NodeId, sm: SmState, durable: HardState, afterPowerLoss: boolean): void {
    const r = this.#record(id);
    if (sm.applied < r.applied && !afterPowerLoss) {
      violated(`${id}: applied index went back across a restart`);
    }
    r.applied = sm.applied;
    // What a power loss took was never relied on: a vote or an acknowledgement leaves only after
    // its flush. The node resumes from what was durable.
    if (afterPowerLoss) r.hardState = durable;
    r.commit = durable.commit;
  }

  /** Per-step checks of a live node. */
  onObserve(id: NodeId, raft: Raft): void {
    const r = this.#record(id);
    if (raft.commit < r.commit) {
      violated(`${id}: commit index went back from ${r.commit} to ${raft.commit}`);
    }
    r.commit = raft.commit;
    if (raft.role === "leader") {
      this.onLeader(id, raft.term);
      const mine = this.#committedByLeaderOf.get(raft.term);
      if (raft.commit > (mine?.index ?? 0) && raft.commit > raft.log.snapshot.index) {
        this.#committedByLeaderOf.set(raft.term, {
          index: raft.commit,
          term: raft.log.term(raft.commit)!,
        });
      }
      // Leader completeness (§5.4): a leader holds every entry committed in an earlier term.
      let c = { index: 0, term: 0 };
      for (const [term, committed] of this.#committedByLeaderOf) {
        if (term < raft.term && committed.index > c.index) c = committed;
      }
      if (c.index > raft.log.snapshot.index && raft.log.term(c.index) !== c.term) {
        violated(
          `leader completeness: leader ${id} of term ${raft.term} lacks committed entry ${c.index}@${c.term}`,
        );
      }
    }
  }

  /** Committed entries are never lost: some node's durable state still holds the newest one. */
  checkDurable(holds: (index: number, term: number) => boolean): void {
    const c = this.maxCommitted;
    if (c.index > 0 && !holds(c.index, c.term)) {
      violated(`committed entry ${c.index}@${c.term} is on no node's disk`);
    }
  }

  /** A ReadIndex read never returns a state older than a write acknowledged before it began. */
  onReadState(id: NodeId, rs: ReadState, ackedBeforeRead: number): void {
    if (rs.index < ackedBeforeRead) {
      violated(
        `linearizability: ${id} released read ${rs.id} at ${rs.index}, before acked write ${ackedBeforeRead}`,
      );
    }
  }

  get leadersElected(): number {
    return this.#leaderOfTerm.size;
  }
}
