// Enqueues to one queue that arrive together go in one entry, each still answered on its own.

import { maxMergedJobs, type QueueCommand } from "../queue/commands.ts";
import type { ApplyResult } from "../queue/state_machine.ts";
import type { RaftqError } from "../errors.ts";

export interface Proposal {
  cmd: QueueCommand;
  resolve(result: ApplyResult): void;
  reject(error: RaftqError): void;
}

/**
 * Merges the plain enqueues of each queue among `proposals` into one proposal whose command lists
 * each request as a part (up to maxMergedJobs jobs an entry): one log row, one checksum, one frame
 * per follower and one apply pass instead of one each, while the state machine still takes each
 * part as its own request (its own all-or-nothing, its own maxDepth check) and answers each. The
 * requests were all in flight together, so the order they apply in is theirs to have. Other
 * commands keep their place.
 */
export function mergeEnqueues(proposals: readonly Proposal[]): Proposal[] {
  const slots: (Proposal | Proposal[])[] = [];
  const open = new Map<string, { members: Proposal[]; jobs: number }>();
  for (const p of proposals) {
    const cmd = p.cmd;
    if (cmd.type !== "enqueue" || cmd.parts) {
      slots.push(p);
      continue;
    }
    let group = open.get(cmd.queue);
    if (!group || group.jobs + cmd.jobs.length > maxMergedJobs) {
      group = { members: [], jobs: 0 };
      open.set(cmd.queue, group);
      slots.push(group.members);
    }
    group.members.push(p);
    group.jobs += cmd.jobs.length;
  }
  return slots.map((s) => (Array.isArray(s) ? merged(s) : s));
}

function merged(members: Proposal[]): Proposal {
  if (members.length === 1) return members[0];
  const enqueues = members.map((m) => m.cmd as Extract<QueueCommand, { type: "enqueue" }>);
  return {
    cmd: {
      type: "enqueue",
      queue: enqueues[0].queue,
      jobs: enqueues.flatMap((c) => c.jobs),
      parts: enqueues.map((c) => c.jobs.length),
    },
    resolve(result) {
      // (an entry no replica could apply is every part's answer)
      members.forEach((m, k) =>
        m.resolve(result.type === "enqueuedParts" ? result.parts[k] : result)
      );
    },
    reject(error) {
      for (const m of members) m.reject(error);
    },
  };
}
