// kill -9 in the middle of batched appends: every batch reported durable survives, as a clean prefix.

import assert from "node:assert/strict";
import { openDataDir } from "../../src/storage/data_dir.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import { expectedData } from "./fixtures/writer.ts";
import { tempDir } from "./helpers.ts";

const writer = new URL("./fixtures/writer.ts", import.meta.url).pathname;
const rounds = 20;

/** Runs the writer until it has reported `batches` durable batches (then a little more), kills it. */
async function runAndKill(dir: string, seed: number, batches: number): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", writer, dir, String(seed)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let durable = 0;
  let seen = 0;
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = child.stdout.getReader();
  const deadline = Date.now() + 20_000;
  try {
    while (seen < batches && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^durable (\d+)$/.exec(line);
        if (m) {
          durable = Number(m[1]);
          seen++;
        }
      }
    }
  } finally {
    // SIGKILL lands while the writer is somewhere inside its next batches.
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
  }
  assert.ok(seen >= batches, `the writer reported only ${seen} batches`);
  return durable;
}

Deno.test(`crash: ${rounds} SIGKILLs mid-burst lose no reported entry and leave a clean prefix`, async () => {
  const dir = await tempDir();
  try {
    let reported = 0;
    for (let round = 1; round <= rounds; round++) {
      const batches = 1 + ((round * 7919) % 23);
      reported = Math.max(reported, await runAndKill(dir, round, batches));
      const dd = await openDataDir(dir);
      try {
        const { entries, hardState } = new RaftStorage(dd.db).load(); // verifies checksums
        const last = entries.at(-1)?.index ?? 0;
        assert.ok(last >= reported, `round ${round}: reported ${reported} durable, found ${last}`);
        entries.forEach((e, k) => {
          assert.equal(e.index, k + 1, `round ${round}: hole before ${e.index}`);
          assert.equal(e.data, expectedData(e.index), `round ${round}: entry ${e.index} is torn`);
        });
        assert.ok(hardState.commit <= last);
        reported = last;
      } finally {
        dd.close();
      }
    }
    assert.ok(reported > rounds, "the writers made progress");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
