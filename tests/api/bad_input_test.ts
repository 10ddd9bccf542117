// Every validation rule's answer, word for word (see bad_input_cases.ts), and nothing changed.

import assert from "node:assert/strict";
import { badCases } from "./bad_input_cases.ts";
import { startInProcessNode } from "../helpers/in_process.ts";

Deno.test("api: bad input gets the same clear answers it always had, and changes nothing", async (t) => {
  const node = await startInProcessNode();
  try {
    const before = node.node.sm.appliedIndex;
    for (const c of badCases) {
      await t.step(c.what, async () => {
        const r = await node.call(`${node.url}${c.path}`, c.method, c.body);
        assert.deepEqual(
          { status: r.status, code: r.body?.error?.code, message: r.body?.error?.message },
          { status: c.status, code: c.code, message: c.message },
        );
      });
    }
    assert.deepEqual(node.node.sm.queueStats(), [], "no job was made");
    assert.ok(node.node.sm.appliedIndex - before <= 2, "nothing but ticks was applied");
    assert.deepEqual(node.logged, []);
  } finally {
    await node.stop();
  }
});
