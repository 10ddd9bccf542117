// POST /v1/flows at the edge: refs checked, cycles refused, the jobs put in dependency order.

import { RaftqError } from "../errors.ts";
import type { FlowJob, NewJob } from "../queue/commands.ts";
import * as s from "./schemas.ts";
import { parse, withinDependencies } from "./validate.ts";

const bad = (message: string) => new RaftqError("invalid_request", message);

/** A flow ready to propose: its jobs in an order where each comes after those it waits for. */
export interface FlowRequest {
  jobs: FlowJob[];
  /** The ref of each job of `jobs`, in the same order. */
  refs: string[];
}

/**
 * Parses the body and orders the jobs (Kahn's algorithm, keeping the given order among jobs that
 * are ready together). A ref used twice, a dependency on a ref the flow does not have, a job
 * that waits for itself, or a cycle is a 400 that names it.
 */
export function flowRequest(body: unknown): FlowRequest {
  const flow = parse(s.flow, body);
  withinDependencies(flow.jobs, (j) => j.dependsOn);
  const position = new Map<string, number>();
  flow.jobs.forEach((j, k) => {
    if (position.has(j.ref)) throw bad(`jobs[${k}].ref "${j.ref}" is used twice`);
    position.set(j.ref, k);
  });
  const needs = flow.jobs.map((j, k) =>
    [...new Set(j.dependsOn ?? [])].map((r) => {
      const at = position.get(r);
      if (at === undefined) throw bad(`jobs[${k}].dependsOn names "${r}", no job of this flow`);
      if (at === k) throw bad(`jobs[${k}] ("${j.ref}") depends on itself`);
      return at;
    })
  );
  const order = topologicalOrder(needs, flow.jobs.map((j) => j.ref));
  const placed = new Map(order.map((k, at) => [k, at]));
  const jobs = order.map((k): FlowJob => {
    const { ref: _, queue, dependsOn: __, ...rest } = flow.jobs[k];
    const job: NewJob = { ...rest, onFailure: rest.onFailure ?? flow.onFailure };
    return { queue, job, after: needs[k].map((d) => placed.get(d)!) };
  });
  return { jobs, refs: order.map((k) => flow.jobs[k].ref) };
}

/** The jobs in an order where each comes after the ones it needs; a cycle is a 400. */
function topologicalOrder(needs: number[][], refs: string[]): number[] {
  const waitingOn = needs.map((n) => n.length);
  const dependents = needs.map(() => [] as number[]);
  needs.forEach((n, k) => n.forEach((d) => dependents[d].push(k)));
  const order: number[] = [];
  const ready = waitingOn.flatMap((n, k) => (n === 0 ? [k] : []));
  for (let at = 0; at < ready.length; at++) {
    order.push(ready[at]);
    for (const k of dependents[ready[at]]) if (--waitingOn[k] === 0) ready.push(k);
  }
  if (order.length < needs.length) {
    const stuck = refs.filter((_, k) => waitingOn[k] > 0).slice(0, 5).map((r) => `"${r}"`);
    throw bad(`the flow has a cycle among ${stuck.join(", ")}`);
  }
  return order;
}
