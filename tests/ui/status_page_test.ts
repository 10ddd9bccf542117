// The status page in headless Chromium: what it renders matches /admin/status; token handling.

import assert from "node:assert/strict";
import { call, TestCluster } from "../helpers/cluster.ts";

const chromium = "/usr/bin/chromium";
const token = "ui-test-token-123";

/** Runs headless Chromium on `url` with `extra` flags (as root, so --no-sandbox); returns stdout. */
async function headless(url: string, extra: string[]): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "raftq-chromium-" });
  try {
    const out = await new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--window-size=1280,760",
        "--virtual-time-budget=5000",
        ...extra,
        url,
      ],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(60_000),
    }).output();
    assert.ok(out.success, "chromium ran");
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

function text(dom: string, id: string): string | undefined {
  return new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom)?.[1];
}

Deno.test("status page: headless Chromium renders the cluster as /admin/status reports it", async () => {
  try {
    await Deno.stat(chromium);
  } catch {
    throw new Error("headless Chromium is needed: apt-get install chromium (.ci/run installs it)");
  }
  const c = await TestCluster.start(3, undefined, ["--token", token]);
  try {
    const leader = await c.leader();
    const auth = { authorization: `Bearer ${token}` };
    for (let i = 0; i < 25; i++) {
      await call(`${leader.url}/v1/queues/${i % 2 ? "emails" : "reports"}/jobs`, "POST", {
        payload: i,
      }, auth);
    }
    await call(`${leader.url}/v1/queues/reports/pause`, "POST", undefined, auth);
    await c.converged();
    const status = (await call(`${leader.url}/admin/status`, "GET", undefined, auth)).body;

    const dom = await headless(`${leader.url}/#token=${token}`, ["--dump-dom"]);
    assert.equal(text(dom, "node"), status.id);
    assert.equal(text(dom, "leader"), status.leader.id);
    assert.equal(text(dom, "term"), String(status.term));
    assert.equal(text(dom, "commit"), String(status.commitIndex));
    assert.equal(text(dom, "applied"), String(status.appliedIndex));
    for (const m of status.members) {
      assert.ok(dom.includes(`data-id="${m.id}"`), `member ${m.id} listed`);
    }
    for (const q of ["emails", "reports"]) {
      assert.ok(dom.includes(`data-queue="${q}"`), `queue ${q} listed`);
    }
    assert.match(dom, /<tr data-queue="emails"><td>emails<\/td><td class="num">12<\/td>/);
    assert.match(dom, /<tr data-queue="reports">.*<b class="paused">paused<\/b>/);
    assert.match(dom, /<tr data-queue="emails">.*<td>running<\/td>/);
    assert.ok(!dom.includes(token), "the token is not left in the page");

    // Without a token the page asks for one instead of showing anything.
    const locked = await headless(`${leader.url}/`, ["--dump-dom"]);
    assert.match(locked, /<form id="auth" style="display: block;">/);
    assert.equal(text(locked, "applied"), "…");

    // A screenshot, for people (RAFTQ_SCREENSHOT picks where; the README shows docs/status-page.png).
    const shot = Deno.env.get("RAFTQ_SCREENSHOT") ?? `${await Deno.makeTempDir()}/status-page.png`;
    await headless(`${leader.url}/#token=${token}`, [`--screenshot=${shot}`]);
    const png = await Deno.readFile(shot);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
    assert.ok(png.length > 10_000);
  } finally {
    await c.stop();
  }
});
