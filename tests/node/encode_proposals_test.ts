// A turn's proposals made into entries: schedules get their first slot from the stamp, and a
// proposal that cannot be made into an entry is refused alone.

import assert from "node:assert/strict";
import type { RaftqError } from "../../src/errors.ts";
import { decodeCommand, type QueueCommand } from "../../src/queue/commands.ts";
import type { ScheduleSpec } from "../../src/queue/schedules.ts";
import { encodeProposals } from "../../src/node/encode_proposals.ts";
import type { Proposal } from "../../src/node/merge.ts";

const spec = (s: Partial<ScheduleSpec>): ScheduleSpec => ({
  queue: "q",
  payload: "{}",
  overlap: "allow",
  catchUp: "none",
  ...s,
});

function proposal(cmd: QueueCommand, refusals: string[]): Proposal {
  return {
    cmd,
    resolve: () => {},
    reject: (e: RaftqError) => refusals.push(`${(cmd as { id?: string }).id}: ${e.code}`),
  };
}

Deno.test("encode proposals: a schedule's first slot comes from the stamp; a spec that does not evaluate is refused alone", () => {
  const refusals: string[] = [];
  const stampMs = 1_000_500;
  const { batch, datas } = encodeProposals([
    proposal(
      { type: "setSchedule", id: "every", spec: spec({ everyMs: 1_000 }), nextRunAt: null },
      refusals,
    ),
    proposal({
      type: "setSchedule",
      id: "bad",
      spec: spec({ cron: "61 * * * *" }),
      nextRunAt: null,
    }, refusals),
    proposal({ type: "deleteSchedule", id: "gone" }, refusals),
  ], stampMs);
  assert.deepEqual(refusals, ["bad: invalid_request"]);
  assert.equal(batch.length, 2);
  const decoded = datas.map((d) => decodeCommand(d)!);
  assert.deepEqual(decoded.map((d) => d.stampMs), [stampMs, stampMs]);
  assert.deepEqual(decoded[0].cmd, {
    type: "setSchedule",
    id: "every",
    spec: spec({ everyMs: 1_000 }),
    nextRunAt: 1_001_000,
  });
  assert.deepEqual(decoded[1].cmd, { type: "deleteSchedule", id: "gone" });
});
