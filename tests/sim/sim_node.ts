// A simulated node: a real Raft core and the production Ready loop, on simulated ports.

import { ReadyLoop } from "../../src/node/loop.ts";
import {
  type Entry,
  makeRaftConfig,
  type Message,
  type NodeId,
  Raft,
  type Ready,
} from "../../src/raft/mod.ts";
import type { Prng } from "./prng.ts";
import type { SimScheduler } from "./scheduler.ts";
import type { SimStore } from "./store.ts";
import type { SmState } from "./state_machine.ts";

const electionTicks = 10;

/** What a node needs from the simulation around it. */
export interface NodeEnv {
  scheduler: SimScheduler;
  send(m: Message): void;
  chunkBytes: number;
  /** RaftConfig.maxCommittedBytesPerReady. */
  committedBytesPerReady: number;
  /** RaftConfig.catchUpHoldTicks. */
  catchUpHoldTicks: number;
  /** RaftConfig.maxInflightBytes. */
  inflightBytes: number;
  compactEvery: number;
  /** Compact once the log's entries exceed this many bytes. */
  compactAboveBytes: number;
  /** Bytes of persisted entries a core keeps in memory (older ones are read from the store). */
  logMemoryBytes: number;
  /** Each entry applied here, with the state after it (the checker's state machine safety). */
  applied(node: SimNode, e: Entry, after: SmState): void;
  /** Entries applied here were answered to their writers. */
  answered(node: SimNode, entries: readonly Entry[]): void;
  /** A Ready was written: reads, roles. */
  readied(node: SimNode, rd: Ready): void;
  /** A snapshot was taken or installed here, or the log compacted. */
  snapshot(
    node: SimNode,
    kind: "taken" | "installing" | "installed" | "compacted",
    index: number,
  ): void;
  fatal(node: SimNode, error: Error): void;
}

export class SimNode {
  raft: Raft | null = null;
  loop: ReadyLoop<unknown> | null = null;
  removed = false;
  /** Whether the last crash was a power loss (the checker allows lost applies then). */
  lostPower = false;
  nextTickAt: number;

  constructor(
    readonly id: NodeId,
    readonly tickEveryMs: number,
    readonly rng: Prng,
    readonly store: SimStore,
    readonly env: NodeEnv,
    startAt: number,
  ) {
    this.nextTickAt = startAt + tickEveryMs;
  }

  get live(): boolean {
    return this.raft !== null;
  }

  /** Starts (or restarts) from what the store holds. */
  start(): Raft {
    const cfg = makeRaftConfig({
      id: this.id,
      electionTicks,
      heartbeatTicks: 1,
      randomInt: (n) => this.rng.int(n),
      maxInflightAppends: 4,
      maxAppendBytes: 400,
      snapshotChunkBytes: this.env.chunkBytes,
      maxCommittedBytesPerReady: this.env.committedBytesPerReady,
      catchUpHoldTicks: this.env.catchUpHoldTicks,
      maxInflightBytes: this.env.inflightBytes,
      snapshotResendTicks: 3,
      entryReader: (lo, hi, maxBytes) => this.store.readEntries(lo, hi, maxBytes),
      logMemoryBytes: this.env.logMemoryBytes,
      snapshotReader: (index, offset, maxBytes) => {
        const chunk = this.store.readSnapshotChunk(index, offset, maxBytes);
        if (chunk === null) this.loop?.wantSnapshot();
        return chunk;
      },
    });
    const raft = new Raft(cfg, this.store.load());
    const env = this.env;
    this.raft = raft;
    this.loop = new ReadyLoop(raft, {
      store: this.store,
      sm: this.store.machine((e, sm) => env.applied(this, e, sm)),
      peers: { send: (messages) => messages.forEach((m) => env.send(m)) },
      scheduler: env.scheduler,
      monoMs: () => env.scheduler.now,
    }, {
      feed: () => {},
      applied: (entries) => env.answered(this, entries),
      readied: (rd) => env.readied(this, rd),
      snapshot: (kind, index) => env.snapshot(this, kind, index),
      fatal: (error) => env.fatal(this, error),
    }, { everyEntries: env.compactEvery, aboveBytes: env.compactAboveBytes });
    return raft;
  }

  /** Something reached the core: the loop handles it in its next turn. */
  schedule(): void {
    this.loop?.schedule();
  }

  /** The process dies; with a power loss, writes no flush covered are gone too. */
  crash(powerLoss: boolean): void {
    this.lostPower = powerLoss;
    this.#halt();
    this.store.crash(powerLoss);
  }

  /** It applied its own removal: it stops serving. */
  remove(): void {
    this.removed = true;
    this.#halt();
  }

  #halt(): void {
    this.loop?.stop();
    this.loop = null;
    this.raft = null;
  }
}
