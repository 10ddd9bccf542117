// What a serving node does on its node's events: log lines, long polls woken, a stop asked for.

import { eventsKey, type Waiters } from "./api/long_poll.ts";
import type { Logger } from "./log.ts";
import type { ClockVerdict } from "./node/clock_guard.ts";
import type { NodeEvents } from "./node/node.ts";

/** What the events need of the serving node around them. */
export interface ServingNode {
  logger: Logger;
  log: Logger["log"];
  waiters: Waiters;
  jobWaiters: Waiters;
  fatal(error: Error): void;
  stop(reason: string): void;
}

export function nodeEvents(run: ServingNode): NodeEvents {
  const log = run.log;
  return {
    // (as many claims as there are ready jobs: the rest would each propose a claim for nothing)
    onJobsReady: (queue, ready) => run.waiters.wake(queue, ready),
    onEvents: (queue) => run.waiters.wake(eventsKey(queue)),
    jobWatch: run.jobWaiters,
    onFatal: (error) => run.fatal(error),
    onApplyFailed(index, message) {
      log("warn", "entry_apply_failed", { index, error: message });
    },
    onClockVerdict: (verdict, maxOffsetMs) => logClockVerdict(log, verdict, maxOffsetMs),
    onRoleChange(role, term, leader) {
      run.logger.context.term = term;
      log("info", "role_changed", { role, leader: leader || null });
    },
    onMembershipChange(change) {
      log("info", "membership_changed", {
        change: change.type,
        member: change.id,
        url: change.url || null,
      });
    },
    onSnapshot(kind, index) {
      log("info", `snapshot_${kind}`, { index });
    },
    onLoopDelayed(delayMs, electionMs) {
      log("warn", "event_loop_delayed", {
        delayMs,
        electionMs,
        reason:
          "this node's event loop was held that long (heartbeats and answers waited); at an election timeout followers campaign",
      });
    },
    onRemoved() {
      log("warn", "removed_from_cluster", {
        reason:
          "this node applied its own removal; it stops serving (start it with an empty --data to join again)",
      });
      run.stop("removed from the cluster");
    },
  };
}

function logClockVerdict(log: Logger["log"], verdict: ClockVerdict, maxOffsetMs: number): void {
  if (verdict.mayLead) {
    log("info", "clock_offset_ok", { agreeing: verdict.agreeing, maxOffsetMs });
  } else if (verdict.beyond.length === 0) {
    // Not enough recent readings yet (links still opening, peers down): nothing is wrong.
    log("debug", "clock_unconfirmed", { agreeing: verdict.agreeing, maxOffsetMs });
  } else {
    log("warn", "clock_offset_excessive", {
      reason:
        `this node's clock is further than ${maxOffsetMs} ms from a majority of voters'; it refuses to lead until it is not (check NTP)`,
      beyond: verdict.beyond,
      agreeing: verdict.agreeing,
      maxOffsetMs,
    });
  }
}
