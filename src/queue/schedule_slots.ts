// When a schedule's slots fall: cron (with a time zone, via croner) or a fixed interval. Run on
// the leader only: a firing carries its slot, so replicas never evaluate cron themselves.

import { Cron } from "croner";

export interface SlotSpec {
  cron?: string;
  tz?: string;
  everyMs?: number;
}

/**
 * How late a slot that came due before the current leader began may be fired and still count as
 * on time (not one missed in an outage).
 */
export const onTimeMs = 5_000;

/** The most parsed cron patterns kept: schedules often share one ("* * * * *", "0 * * * *"). */
const maxCachedPatterns = 1000;
const patterns = new Map<string, Cron>();

/** The spec's parsed pattern, parsed once while it stays among the recent ones. */
function cronOf(spec: SlotSpec): Cron {
  const key = `${spec.tz ?? ""}\u0000${spec.cron}`;
  let cron = patterns.get(key);
  if (cron === undefined) {
    cron = new Cron(spec.cron!, { timezone: spec.tz, paused: true });
    if (patterns.size >= maxCachedPatterns) patterns.clear();
    patterns.set(key, cron);
  }
  return cron;
}

/** The first slot strictly after `afterMs`, or null when the schedule has none left. */
export function nextSlotAfter(spec: SlotSpec, afterMs: number): number | null {
  if (spec.everyMs !== undefined) return (Math.floor(afterMs / spec.everyMs) + 1) * spec.everyMs;
  return cronOf(spec).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** The latest slot at or before `nowMs`, or null. */
export function latestSlotAtOrBefore(spec: SlotSpec, nowMs: number): number | null {
  if (spec.everyMs !== undefined) return Math.floor(nowMs / spec.everyMs) * spec.everyMs;
  return cronOf(spec).previousRuns(1, new Date(nowMs + 1))[0]?.getTime() ?? null;
}

/**
 * What a due schedule does at `nowMs`: fire its latest due slot when that slot is on time (or
 * `catchUp` is "last": one missed slot after an outage), and come back at the next slot. A slot
 * that came due at or after `leadingSinceMs` (when the current leader began firing) is on time
 * however late: its lateness is that leader's backlog of firings, not an outage, and it fires.
 */
export function firing(
  spec: SlotSpec & { catchUp: "none" | "last" },
  nowMs: number,
  leadingSinceMs = Infinity,
): { slotMs: number | null; nextRunAt: number | null } {
  const latest = latestSlotAtOrBefore(spec, nowMs);
  const onTime = latest !== null && (nowMs - latest <= onTimeMs || latest >= leadingSinceMs);
  return {
    slotMs: latest !== null && (onTime || spec.catchUp === "last") ? latest : null,
    nextRunAt: nextSlotAfter(spec, nowMs),
  };
}

/** Why a cron expression or time zone cannot be used, or null when it can. */
export function cronProblem(cron: string, tz?: string): string | null {
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return "cron must have 5 or 6 fields";
  try {
    // (No year field: a pattern with no next time, as February 30th, has none ever.)
    const next = new Cron(cron, { timezone: tz, paused: true }).nextRun();
    return next === null ? "cron matches no date (the schedule would never fire)" : null;
  } catch (err) {
    const message = (err as Error).message;
    if (/timezone/i.test(message)) {
      return `tz "${String(tz).slice(0, 64)}" is not an IANA time zone`;
    }
    return `cron is not valid: ${message.replace(/^CronPattern: /, "").slice(0, 200)}`;
  }
}
