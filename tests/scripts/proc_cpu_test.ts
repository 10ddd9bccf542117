// The benchmarks' CPU reading from /proc: it sees a process's own work, and a gone one as 0.

import assert from "node:assert/strict";
import { cpuMs, withCpu } from "../../scripts/bench/proc_cpu.ts";

Deno.test("bench: CPU time of a process is read from /proc, and grows with its work", async () => {
  const gone = 2 ** 22 + 12345;
  const { result, cpuMs: used, eachMs } = await withCpu([Deno.pid, gone], () => {
    const until = cpuMs([Deno.pid]) + 50;
    let spins = 0;
    while (cpuMs([Deno.pid]) < until) spins++; // busy until /proc shows 50 ms more
    return Promise.resolve(spins);
  });
  assert.ok(result > 0);
  assert.ok(used >= 50, `${used} ms`);
  assert.deepEqual(eachMs, [used, 0], "each process's share, in the order asked");
  assert.equal(cpuMs([gone]), 0, "a process that does not exist used nothing");
});
