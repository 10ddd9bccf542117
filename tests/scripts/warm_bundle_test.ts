// The bench's first load of a bundle: done before nodes start, and a bundle that fails says so.

import assert from "node:assert/strict";
import { warmBundle } from "../../scripts/bench/warm_bundle.ts";

Deno.test("bench: a bundle loads once before the nodes start; one that cannot load is refused", async () => {
  await warmBundle(Deno.env.get("RAFTQ_BIN_JS") ?? "src/main.ts");
  const dir = await Deno.makeTempDir({ prefix: "raftq-warm-" });
  try {
    const broken = `${dir}/broken.js`;
    await Deno.writeTextFile(broken, "throw new Error('no such build');\n");
    await assert.rejects(warmBundle(broken), /broken\.js --version failed: .*no such build/s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
