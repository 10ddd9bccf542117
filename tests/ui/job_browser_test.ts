// The status page's job browser in headless Chromium, driven by clicks (playwright-core).

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { Client } from "../../src/client/mod.ts";
import { startReadyNode, waitFor } from "../helpers/node_process.ts";

const chromiumPath = "/usr/bin/chromium";
const token = "browser-test-token-0123";

Deno.test("ui: browse a queue's jobs, open a dead one, retry it, pause the queue", async () => {
  try {
    await Deno.stat(chromiumPath);
  } catch {
    throw new Error("headless Chromium is needed: apt-get install chromium (.ci/run installs it)");
  }
  const node = await startReadyNode({ args: ["--token", token], env: { RAFTQ_TOKEN: token } });
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  try {
    const client = new Client({ urls: node.url, token });
    await client.enqueueBatch("mail", [0, 1, 2, 3].map((n) => ({ payload: { n } })));
    const grouped = [4, 5].map((n) => ({ payload: { n }, group: "tenant-a" }));
    await client.enqueueBatch("mail", grouped);
    await client.configure("mail", { groupConcurrency: 1, rateLimit: { max: 50, perMs: 1000 } });
    const [job] = await client.claim("mail", { worker: "w" });
    await client.nack(job.id, job.lease, { error: "mailbox full", final: true });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${node.url}/#token=${token}`);
    await page.click('tr[data-queue="mail"]');
    await page.waitForSelector("#jb-jobs tr[data-job]");
    assert.equal(await page.locator("#jb-jobs tr[data-job]").count(), 6);
    assert.equal(await page.textContent("#jb-limits"), "per group 1, 50 per 1000 ms");
    assert.equal(await page.textContent("#jb-groups"), "tenant-a (2 ready, 0 leased)");
    await page.fill("#jb-group", "tenant-a");
    await page.press("#jb-group", "Enter");
    await page.waitForFunction('document.querySelectorAll("#jb-jobs tr[data-job]").length === 2');
    await page.fill("#jb-group", "");
    await page.press("#jb-group", "Enter");
    await page.waitForFunction('document.querySelectorAll("#jb-jobs tr[data-job]").length === 6');
    await page.selectOption("#jb-state", "dead");
    await page.waitForFunction('document.querySelectorAll("#jb-jobs tr[data-job]").length === 1');
    await page.click(`tr[data-job="${job.id}"]`);
    await page.waitForSelector("#jb-retry", { state: "visible" });
    const detail = JSON.parse((await page.textContent("#jb-json"))!);
    assert.deepEqual([detail.state, detail.lastError, detail.payload], ["dead", "mailbox full", {
      n: 0,
    }]);
    const shot = Deno.env.get("RAFTQ_BROWSER_SCREENSHOT");
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    await page.click("#jb-retry");
    await waitFor(
      "the retried job to be ready",
      async () => (await client.getJob(job.id)).state === "ready",
    );
    await page.waitForSelector("#jb-retry", { state: "hidden" });
    await page.click("#jb-pause");
    await waitFor("the queue to be paused", async () => (await client.queue("mail")).paused);
    await page.waitForFunction('document.getElementById("jb-pause").textContent === "resume"');
    await page.click("#jb-pause");
    await waitFor("the queue to run again", async () => !(await client.queue("mail")).paused);
  } finally {
    await browser.close();
    await node.kill();
    await Deno.remove(node.dataDir, { recursive: true }).catch(() => {});
  }
});
