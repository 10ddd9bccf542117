// The profile benchmark's code path, briefly (so it cannot rot): a leader and a follower profiled.

import assert from "node:assert/strict";
import { benchProfile, profileWorkloads } from "../../scripts/bench/profile_bench.ts";

const sampledMs = (cats: Map<string, number>) => [...cats.values()].reduce((a, b) => a + b, 0);

Deno.test("bench: --only profile-one profiles a leader and a follower over the inspector", async () => {
  const r = await benchProfile(1000, profileWorkloads.enqueueOne, "leader", "fetch");
  try {
    assert.ok(r.load.requests > 0 && r.load.errors === 0, JSON.stringify(r.load));
    for (const [who, s] of [["leader", r.leader], ["follower", r.follower]] as const) {
      // (the profile spans the load's second; the samples' times add up to about that)
      assert.ok(sampledMs(s.cats) > 500, `${who}: ${sampledMs(s.cats)} ms sampled`);
      assert.ok((s.cats.get("idle") ?? 0) > 0, `${who} was idle at times`);
    }
    // The leader answered the requests and sent the appends: its socket writes are in its samples.
    assert.ok([...r.leader.fns.keys()].some((k) => k.startsWith("op_write")));
    const files = [...Deno.readDirSync(r.dir)].map((e) => e.name).sort();
    assert.deepEqual(files, ["follower.cpuprofile", "leader.cpuprofile"]);
  } finally {
    await Deno.remove(r.dir, { recursive: true });
  }
});
