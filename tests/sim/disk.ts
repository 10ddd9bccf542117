// What a simulated node keeps across crashes: in memory, or in a real SQLite data directory.

import type { HardState, RaftInit, Ready, SnapshotMeta } from "../../src/raft/mod.ts";
import { emptySnapshot, type Entry } from "../../src/raft/mod.ts";
import type { DataDir } from "../../src/storage/data_dir.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { decodeSm, encodeSm, type SmState } from "./state_machine.ts";

export interface SimDisk {
  /** The durable state machine; `saveSm` makes changes to it durable. */
  sm: SmState;
  load(): RaftInit;
  /** Writes a Ready's durable parts; returns the state machine an installed snapshot restored. */
  persist(rd: Ready): SmState | null;
  saveSm(): void;
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void;
  snapshotIndex(): number;
  termOnDisk(index: number): number | undefined;
  readSnapshotChunk(
    index: number,
    offset: number,
    maxBytes: number,
  ): { data: Uint8Array; done: boolean } | null;
}

const zeroSm: SmState = { applied: 0, hash: 0, count: 0 };

function chunkOf(data: Uint8Array, offset: number, maxBytes: number) {
  return { data: data.subarray(offset, offset + maxBytes), done: offset + maxBytes >= data.length };
}

export class MemoryDisk implements SimDisk {
  sm: SmState = zeroSm;
  #hardState: HardState;
  #snapshot: { meta: SnapshotMeta; data: Uint8Array } = {
    meta: emptySnapshot,
    data: encodeSm(zeroSm),
  };
  #entries: Entry[];
  #incoming: Uint8Array[] = [];

  constructor(init: RaftInit) {
    this.#hardState = init.hardState;
    this.#entries = [...init.entries];
  }

  load(): RaftInit {
    return {
      hardState: this.#hardState,
      snapshot: this.#snapshot.meta,
      entries: [...this.#entries],
      appliedIndex: this.sm.applied,
    };
  }

  persist(rd: Ready): SmState | null {
    let installed: SmState | null = null;
    for (const chunk of rd.snapshotChunks) {
      if (chunk.offset === 0) this.#incoming = [];
      this.#incoming.push(chunk.data);
    }
    if (rd.snapshot) {
      const data = new Uint8Array(this.#incoming.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of this.#incoming) {
        data.set(c, at);
        at += c.length;
      }
      this.#incoming = [];
      installed = decodeSm(data);
      this.#snapshot = { meta: rd.snapshot, data };
      this.#entries = [];
      this.sm = installed;
    }
    if (rd.entries.length > 0) {
      const keep = rd.entries[0].index - this.#snapshot.meta.index - 1;
      if (keep < 0) {
        throw new Error(`asked to write entry ${rd.entries[0].index} inside the snapshot`);
      }
      this.#entries.length = Math.min(this.#entries.length, keep);
      this.#entries.push(...rd.entries);
    }
    if (rd.hardState) this.#hardState = rd.hardState;
    return installed;
  }

  saveSm(): void {}

  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.#snapshot = { meta, data };
    this.#entries = this.#entries.filter((e) => e.index > meta.index);
  }

  snapshotIndex(): number {
    return this.#snapshot.meta.index;
  }

  termOnDisk(index: number): number | undefined {
    const snap = this.#snapshot.meta;
    if (index === snap.index) return snap.term;
    const k = index - snap.index - 1;
    return k >= 0 && k < this.#entries.length ? this.#entries[k].term : undefined;
  }

  readSnapshotChunk(index: number, offset: number, maxBytes: number) {
    if (this.#snapshot.meta.index !== index) return null;
    return chunkOf(this.#snapshot.data, offset, maxBytes);
  }
}

/** The production storage (src/storage/) under the simulator: a real SQLite file per node. */
export class SqliteDisk implements SimDisk {
  sm: SmState;
  readonly #storage: RaftStorage;

  constructor(readonly dataDir: DataDir, init: RaftInit) {
    this.#storage = new RaftStorage(dataDir.db);
    const stored = this.#storage.getMeta("sim_sm");
    this.sm = stored ? JSON.parse(stored) as SmState : zeroSm;
    if (!stored) {
      this.#storage.persist({
        hardState: init.hardState,
        entries: init.entries,
        snapshotChunks: [],
        snapshot: null,
      });
      this.#storage.saveSnapshot(emptySnapshot, encodeSm(zeroSm));
    }
  }

  load(): RaftInit {
    const { hardState, snapshot, entries } = this.#storage.load();
    return { hardState, snapshot, entries, appliedIndex: this.sm.applied };
  }

  persist(rd: Ready): SmState | null {
    let installed: SmState | null = null;
    this.#storage.persist(rd, (data) => {
      // Inside the install transaction: the state machine changes with the log, atomically.
      installed = decodeSm(data);
      this.#storage.setMeta("sim_sm", JSON.stringify(installed));
    });
    if (installed) this.sm = installed;
    return installed;
  }

  saveSm(): void {
    this.#storage.setMeta("sim_sm", JSON.stringify(this.sm));
  }

  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.#storage.saveSnapshot(meta, data);
  }

  snapshotIndex(): number {
    return this.#storage.snapshotMeta().index;
  }

  termOnDisk(index: number): number | undefined {
    return this.#storage.term(index);
  }

  readSnapshotChunk(index: number, offset: number, maxBytes: number) {
    return this.#storage.readSnapshotChunk(index, offset, maxBytes);
  }
}
