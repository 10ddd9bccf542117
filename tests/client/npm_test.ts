// The npm build of the client: Node.js imports it by name, types it, and works a job with it.

import assert from "node:assert/strict";
import { join } from "node:path";
import ts from "typescript";
import { startReadyNode } from "../helpers/node_process.ts";

const consumerJs = `
import { Client, Worker, LeaseMismatchError } from "@raftq/client";
const client = new Client({ urls: process.argv[2] });
const { id } = await client.enqueue("node", { n: 21 });
const worker = new Worker(client, "node", (job) => job.payload.n * 2, { waitMs: 500 });
worker.start();
const job = await client.waitJob(id, { waitMs: 10000 });
await worker.stop();
let mismatch = false;
try { await client.ack(id, "1"); } catch (e) { mismatch = e instanceof LeaseMismatchError; }
console.log(JSON.stringify({ state: job.state, result: job.result, mismatch, stats: worker.stats }));
`;

const consumerTs = `
import { Client, type Job, Worker, type WorkerJob } from "@raftq/client";
const client = new Client({ urls: ["http://127.0.0.1:1"] });
const worker = new Worker<{ n: number }, number>(client, "q", (job: WorkerJob<{ n: number }>) => job.payload.n);
const job: Promise<Job<{ n: number }, number>> = client.getJob("1-0");
export { job, worker };
`;

async function build(outDir: string): Promise<void> {
  const script = new URL("../../scripts/npm_package.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, "--out", outDir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

/** Type errors of consumer.ts, as a Node.js project (module NodeNext) would see them. */
function typeErrors(dir: string): string[] {
  const program = ts.createProgram([join(dir, "consumer.ts")], {
    noEmit: true,
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
  });
  return ts.getPreEmitDiagnostics(program).map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, "\n")
  );
}

Deno.test("npm: the built client runs under Node.js and types a consumer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "raftq-npm-" });
  const node = await startReadyNode();
  try {
    await build(join(dir, "node_modules", "@raftq", "client"));
    await Deno.writeTextFile(join(dir, "consumer.mjs"), consumerJs);
    await Deno.writeTextFile(join(dir, "consumer.ts"), consumerTs);
    await Deno.writeTextFile(join(dir, "package.json"), '{"type": "module"}');
    assert.deepEqual(typeErrors(dir), []);
    const run = await new Deno.Command("node", {
      args: [join(dir, "consumer.mjs"), node.url],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e) => {
      throw new Error(`this test needs Node.js (node) on PATH: ${e.message}`);
    });
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, stderr);
    const out = JSON.parse(new TextDecoder().decode(run.stdout));
    assert.deepEqual(out, {
      state: "done",
      result: 42,
      mismatch: true,
      stats: { claimed: 1, completed: 1, failed: 0, released: 0, leaseLost: 0, running: 0 },
    });
  } finally {
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
