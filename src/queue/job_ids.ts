// Job ids and the seq each is stored under: `<index>-<k>` is seq index * 10,000 + k, the rowid.

import type { Compilable, CompiledQuery, ExpressionBuilder } from "kysely";
import { prepare } from "../storage/prepared.ts";
import type { Tables } from "../storage/schema.ts";

/** Jobs one entry can hold at most, with room: a batch, a merged entry or a flow is far less. */
export const seqsPerEntry = 10_000;

/** The id of the `k`th job an entry at `index` enqueues. */
export const jobId = (index: number, k: number): string => `${index}-${k}`;

/** The seq (the jobs table's rowid) of the `k`th job an entry at `index` enqueues. */
export const jobSeq = (index: number, k: number): number => index * seqsPerEntry + k;

/** The id of the job stored under `seq`: jobSeq's inverse. */
export const idOfSeq = (seq: number): string =>
  jobId(Math.floor(seq / seqsPerEntry), seq % seqsPerEntry);

/** An id is `<index>-<k>`: at most 12 digits of index and 4 of position (leading zeros count). */
const maxIndexDigits = 12;
const maxPositionDigits = 4;

/**
 * The seq `id` is stored under, or -1 where `id` cannot name a job. Leading zeros pass ("1-00"
 * is seq 10,000): the statements check the row's id too, so only the job named is found. Read
 * by hand, not by a regular expression: every event of every job reads its id here, and a
 * match's array was a seventh of what applying a 1,000-job entry allocated.
 */
export function seqOfId(id: string): number {
  // (longer than any id can be: refused before a scan of what may be a long request text)
  if (id.length > maxIndexDigits + 1 + maxPositionDigits) return -1;
  const dash = id.indexOf("-");
  const positionDigits = id.length - dash - 1;
  if (dash < 1 || dash > maxIndexDigits) return -1;
  if (positionDigits < 1 || positionDigits > maxPositionDigits) return -1;
  const index = digitsValue(id, 0, dash);
  const k = digitsValue(id, dash + 1, id.length);
  const seq = index < 0 || k < 0 ? -1 : jobSeq(index, k);
  return Number.isSafeInteger(seq) ? seq : -1;
}

/** The number the ASCII digits of `text` from `from` to `to` spell, or -1 if any is not one. */
function digitsValue(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * prepare() for a statement on one job, found by `id`: the builder gets `seq` as well, to find
 * the row by its rowid (`.where(theJob(p))`), and callers still pass the id alone.
 */
export function prepareByJob<K extends string, R = unknown>(
  names: readonly K[],
  build: (p: Record<K | "id" | "seq", never>) => Compilable<R>,
): (args: Record<K | "id", unknown>) => CompiledQuery<R> {
  const compiled = prepare<K | "id" | "seq", R>([...names, "id", "seq"], build);
  return (args) => compiled({ ...args, seq: seqOfId(String(args.id)) });
}

/** The one job a statement of prepareByJob names: found by its rowid, its id checked. */
export const theJob = (p: { seq: never; id: never }) => (eb: ExpressionBuilder<Tables, "jobs">) =>
  eb.and([eb("seq", "=", p.seq), eb("id", "=", p.id)]);

/**
 * The lease a claim in the entry at `index` grants: the index, and for the `part`th of requests
 * merged into one entry, the part in three decimals ("812.004"), so that a job's leases still
 * increase read as numbers (a merged entry holds at most maxMergedCommands < 1,000 parts).
 */
export const leaseOf = (index: number, part?: number): string =>
  part === undefined ? String(index) : `${index}.${String(part).padStart(3, "0")}`;
