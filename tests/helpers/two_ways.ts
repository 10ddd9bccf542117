// Two state machines fed the same log: one applying merged commands together, one one by one.

import assert from "node:assert/strict";
import type { QueueCommand } from "../../src/queue/commands.ts";
import type { ApplyResult } from "../../src/queue/results.ts";
import type { MachineOptions } from "../../src/queue/state_machine.ts";
import { SqliteConnection } from "../../src/storage/sqlite.ts";
import { dumpTables, Harness } from "./queue_harness.ts";

/**
 * `together` runs with the defaults, `alone` with `aloneOptions`. Each entry goes to both and its
 * answers are compared; in merged entries, the statements whose SQL matches `counted` are tallied
 * for each side (on both of the connection's statement paths). close() puts the connection back.
 */
export class TwoWays {
  togetherStatements = 0;
  aloneStatements = 0;
  #seen = 0;
  readonly #restore: () => void;

  private constructor(readonly together: Harness, readonly alone: Harness, counted: RegExp) {
    const proto = SqliteConnection.prototype;
    const [compiled, withValues] = [proto.executeCompiled, proto.runWithValues];
    const count = (sql: string) => counted.test(sql) && this.#seen++;
    proto.executeCompiled = function <R>(
      this: SqliteConnection,
      q: Parameters<typeof compiled>[0],
    ) {
      count(q.sql);
      return compiled.call<SqliteConnection, [typeof q], ReturnType<typeof compiled<R>>>(this, q);
    };
    proto.runWithValues = function (sql, values) {
      count(sql);
      return withValues.call(this, sql, values);
    };
    this.#restore = () => {
      proto.executeCompiled = compiled;
      proto.runWithValues = withValues;
    };
  }

  static async open(aloneOptions: MachineOptions, counted = /^$/): Promise<TwoWays> {
    return new TwoWays(await Harness.open(), await Harness.open(aloneOptions), counted);
  }

  /** Both apply `cmd`; their answers must be the same (`what` names the entry). */
  apply(stampMs: number, cmd: QueueCommand, what: string): ApplyResult {
    const before = this.#seen;
    const r = this.together.apply(stampMs, cmd);
    const between = this.#seen;
    assert.deepEqual(this.alone.apply(stampMs, cmd), r, what);
    if (cmd.type === "merged") {
      this.togetherStatements += between - before;
      this.aloneStatements += this.#seen - between;
    }
    return r;
  }

  /** Together took fewer of the counted statements than `ratio` times alone's. */
  assertFewerStatements(ratio: number, what: string): void {
    const [together, alone] = [this.togetherStatements, this.aloneStatements];
    assert.ok(
      together < alone * ratio,
      `${what} in fewer statements (${together} against ${alone})`,
    );
  }

  /** Every replicated table and the tallies, the same on both. */
  assertSameState(): void {
    assert.deepEqual(dumpTables(this.together.dd), dumpTables(this.alone.dd));
    assert.deepEqual(this.together.sm.tallies, this.alone.sm.tallies);
  }

  async close(): Promise<void> {
    this.#restore();
    await this.together.close();
    await this.alone.close();
  }
}
