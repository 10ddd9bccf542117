// The membership commands of the CLI against a real cluster: members list, transfer, status.

import assert from "node:assert/strict";
import { TestCluster, waitFor } from "../helpers/cluster.ts";
import { runRaftq } from "../helpers/node_process.ts";

const raftq = (url: string, ...args: string[]) => runRaftq([...args, "--url", url]);

Deno.test("cluster cli: members list, transfer --to, and status naming the new leader", async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const follower = c.live().find((n) => n !== leader)!;
    const list = await raftq(follower.url, "members", "list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+URL\s+VOTER$/m);
    for (const id of ["n1", "n2", "n3"]) {
      assert.match(list.stdout, new RegExp(`^${id}\\s+http`, "m"));
    }
    const t = await raftq(follower.url, "transfer", "--to", follower.id);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout, `leader is now ${follower.id}`);
    await waitFor("the new leader", async () => (await c.leader()).id === follower.id);
    const s = await raftq(leader.url, "status");
    assert.match(s.stdout, new RegExp(`leader ${follower.id}`));
    assert.match(s.stdout, new RegExp(`^${follower.id}\\s+\\S+\\s+leader\\s+true`, "m"));
    const bad = await raftq(leader.url, "members", "remove", "nobody");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^raftq: not_found: /);
    // A member that is down is shown as unreachable, not with the role it last had.
    const third = c.live().find((n) => n !== leader && n !== follower)!;
    await c.kill(third);
    await waitFor("the leader to see it down", async () => {
      const r = await raftq(follower.url, "status");
      return new RegExp(`^${third.id}\\s+\\S+\\s+unreachable\\s+true`, "m").test(r.stdout);
    }, 15_000);
  } finally {
    await c.stop();
  }
});
