// Per-queue settings in the replicated state: paused or not, and the config jobs default to.

import type { CompiledQuery } from "kysely";
import type { Database } from "../storage/database.ts";
import { prepare } from "../storage/prepared.ts";
import type { QueueSettingsTable } from "../storage/schema.ts";

import type { QueueConfig } from "./queue_config.ts";

export type { QueueConfig };

export interface QueueSetting {
  paused: boolean;
  config: QueueConfig;
}

const defaultSetting: QueueSetting = Object.freeze({ paused: false, config: Object.freeze({}) });

/**
 * The settings table, mirrored in a map (one entry per queue with a setting: O(queues), never
 * O(jobs)). Writes go to both inside the apply's transaction; after a rollback the map is read
 * again (`version` tells the state machine whether it changed).
 */
export class QueueSettings {
  readonly #db: Database;
  readonly #map = new Map<string, QueueSetting>();
  version = 0;
  readonly #q;

  constructor(db: Database) {
    this.#db = db;
    const k = db.kysely;
    this.#q = {
      all: prepare([], () => k.selectFrom("queue_settings").selectAll()),
      save: prepare(
        ["queue", "paused", "config"],
        (p) =>
          k.insertInto("queue_settings").values({
            queue: p.queue,
            paused: p.paused,
            config: p.config,
          })
            .onConflict((oc) =>
              oc.column("queue").doUpdateSet({ paused: p.paused, config: p.config })
            ),
      ),
      drop: prepare(["queue"], (p) => k.deleteFrom("queue_settings").where("queue", "=", p.queue)),
    };
    this.load();
  }

  /** Reads the table again (at start, after a snapshot install or a rolled-back apply). */
  load(): void {
    this.#map.clear();
    this.version++;
    const rows = this.#db.conn.executeCompiled<QueueSettingsTable>(this.#q.all({})).rows;
    for (const r of rows) {
      this.#map.set(r.queue, { paused: r.paused === 1, config: JSON.parse(r.config) });
    }
  }

  get(queue: string): QueueSetting {
    return this.#map.get(queue) ?? defaultSetting;
  }

  isPaused(queue: string): boolean {
    return this.#map.get(queue)?.paused ?? false;
  }

  /** Queues that have a setting. */
  names(): string[] {
    return [...this.#map.keys()];
  }

  setPaused(queue: string, paused: boolean): void {
    this.#write(queue, { ...this.get(queue), paused });
  }

  /** Replaces the queue's config (PUT semantics: a field left out goes back to its default). */
  setConfig(queue: string, config: QueueConfig): void {
    this.#write(queue, { ...this.get(queue), config });
  }

  #write(queue: string, setting: QueueSetting): void {
    const isDefault = !setting.paused && Object.keys(setting.config).length === 0;
    const q: CompiledQuery = isDefault ? this.#q.drop({ queue }) : this.#q.save({
      queue,
      paused: setting.paused ? 1 : 0,
      config: JSON.stringify(setting.config),
    });
    this.#db.conn.executeCompiled(q);
    if (isDefault) this.#map.delete(queue);
    else this.#map.set(queue, setting);
    this.version++;
  }
}
