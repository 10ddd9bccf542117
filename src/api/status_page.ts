// GET /: a self-contained status page for people (no build step, no external assets).

import type { Hono } from "hono";
import type { ApiContext } from "./context.ts";
import { jobBrowserScript, jobBrowserSection } from "./job_browser.ts";

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>raftq status</title>
<style>
  :root { --fg:#1d2330; --muted:#6b7385; --line:#e3e6ee; --ok:#1f9d55; --bad:#d64545; --lead:#3056d3; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
         margin: 0; background: #f6f7fb; }
  header { background: #fff; border-bottom: 1px solid var(--line); padding: 14px 24px; display: flex;
           align-items: baseline; gap: 18px; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  .muted { color: var(--muted); }
  main { padding: 18px 24px; display: grid; gap: 18px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: 12px; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #eef1f7; }
  .leader { background: #e3e9fb; color: var(--lead); font-weight: 600; }
  .ok { color: var(--ok); } .bad { color: var(--bad); }
  .kv { display: grid; grid-template-columns: auto 1fr; gap: 4px 16px; }
  .kv b { font-variant-numeric: tabular-nums; }
  svg { width: 100%; height: 140px; background: #fbfcfe; border: 1px solid var(--line); border-radius: 6px; }
  .legend span { margin-right: 14px; } .sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
  #auth { display: none; max-width: 420px; margin: 40px auto; background: #fff; border: 1px solid var(--line);
          border-radius: 8px; padding: 18px; }
  #auth input { width: 100%; padding: 8px; margin: 8px 0; font: inherit; }
  #error { color: var(--bad); padding: 0 24px; }
  #queues tr[data-queue] { cursor: pointer; } #queues tr[data-queue]:hover { background: #f3f5fb; }
  #jb { grid-column: 1 / -1; } #jb .row { display: flex; gap: 10px; align-items: center; margin-bottom: 8px; }
  #jb-jobs tr[data-job] { cursor: pointer; }
  #jb-json { background: #fbfcfe; border: 1px solid var(--line); border-radius: 6px; padding: 10px;
             max-height: 320px; overflow: auto; white-space: pre-wrap; }
  button { font: inherit; padding: 2px 10px; }
</style>
</head>
<body>
<header>
  <h1>raftq</h1>
  <span>node <b id="node">…</b> <span id="role" class="pill">…</span></span>
  <span>leader <b id="leader">…</b></span>
  <span>term <b id="term">…</b></span>
  <span class="muted" id="updated"></span>
</header>
<p id="error"></p>
<form id="auth">
  <b>This node needs its API token.</b>
  <div class="muted">It is kept in this browser tab's session only.</div>
  <input id="token" type="password" autocomplete="off" placeholder="token">
  <button type="submit">Show status</button>
</form>
<main id="main">
  <section>
    <h2>Log</h2>
    <div class="kv">
      <span>commit index</span><b id="commit">…</b>
      <span>applied index</span><b id="applied">…</b>
      <span>last log index</span><b id="last">…</b>
      <span>snapshot index</span><b id="snapshot">…</b>
      <span>cluster</span><b id="cluster" class="muted">…</b>
    </div>
  </section>
  <section>
    <h2>Members</h2>
    <table id="members"><thead><tr><th>id</th><th>url</th><th>role</th><th class="num">match</th><th class="num">lag</th><th>reachable</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Queues</h2>
    <table id="queues"><thead><tr><th>queue</th><th class="num">ready</th><th class="num">delayed</th><th class="num">waiting</th><th class="num">leased</th><th class="num">done</th><th class="num">dead</th><th>state</th></tr></thead><tbody></tbody></table>
  </section>
${jobBrowserSection}
  <section>
    <h2>Rates (jobs/s, last 5 minutes)</h2>
    <svg id="chart" viewBox="0 0 600 140" preserveAspectRatio="none"></svg>
    <div class="legend muted"><span><i class="sw" style="background:#3056d3"></i>enqueued <b id="rate-in">0</b>/s</span><span><i class="sw" style="background:#1f9d55"></i>completed <b id="rate-out">0</b>/s</span></div>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "–").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  // A token may arrive once in the URL fragment (#token=…); it is moved to this tab's session.
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem("raftq-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  const samples = [];
  const headers = () => { const t = sessionStorage.getItem("raftq-token"); return t ? { authorization: "Bearer " + t } : {}; };
  async function get(path) {
    const r = await fetch(path, { headers: headers() });
    if (r.status === 401) { const e = new Error("unauthorized"); e.auth = true; throw e; }
    if (!r.ok) throw new Error(path + " answered " + r.status);
    return r.json();
  }
  function draw() {
    const svg = $("chart");
    if (samples.length < 2) { svg.innerHTML = ""; return; }
    const rates = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = (samples[i].t - samples[i - 1].t) / 1000 || 1;
      rates.push({ t: samples[i].t, i: Math.max(0, (samples[i].enq - samples[i - 1].enq) / dt), o: Math.max(0, (samples[i].done - samples[i - 1].done) / dt) });
    }
    const max = Math.max(1, ...rates.map((r) => Math.max(r.i, r.o)));
    const t0 = Date.now() - 300000;
    const x = (t) => ((t - t0) / 300000) * 600;
    const y = (v) => 134 - (v / max) * 124;
    const line = (k, color) => '<polyline fill="none" stroke-width="2" stroke="' + color + '" points="' + rates.map((r) => x(r.t).toFixed(1) + "," + y(r[k]).toFixed(1)).join(" ") + '"/>';
    svg.innerHTML = '<text x="4" y="12" font-size="10" fill="#6b7385">' + max.toFixed(1) + '/s</text>' + line("i", "#3056d3") + line("o", "#1f9d55");
    const last = rates[rates.length - 1];
    $("rate-in").textContent = last.i.toFixed(1);
    $("rate-out").textContent = last.o.toFixed(1);
  }
  async function refresh() {
    try {
      const [s, q] = await Promise.all([get("/admin/status"), get("/v1/queues?consistency=local&limit=500")]);
      $("auth").style.display = "none"; $("main").style.display = ""; $("error").textContent = "";
      $("node").textContent = s.id;
      $("role").textContent = s.role; $("role").className = "pill" + (s.role === "leader" ? " leader" : "");
      $("leader").textContent = s.leader ? s.leader.id : "none";
      $("term").textContent = s.term;
      $("commit").textContent = s.commitIndex; $("applied").textContent = s.appliedIndex;
      $("last").textContent = s.lastLogIndex; $("snapshot").textContent = s.snapshotIndex;
      $("cluster").textContent = s.clusterId ?? "–";
      $("members").tBodies[0].innerHTML = s.members.map((mb) => {
        const role = s.leader && mb.id === s.leader.id ? "leader" : mb.voter ? "follower" : "learner";
        const reach = mb.reachable === null ? "–" : mb.reachable ? '<span class="ok">yes</span>' : '<span class="bad">no</span>';
        const joining = mb.catchUp ? " " + mb.catchUp.summary : "";
        return '<tr data-id="' + esc(mb.id) + '"><td>' + esc(mb.id) + "</td><td>" + esc(mb.url) + '</td><td><span class="pill' + (role === "leader" ? " leader" : "") + '">' + role + '</span><span class="muted">' + esc(joining) + '</span></td><td class="num">' + esc(mb.matchIndex) + '</td><td class="num">' + esc(mb.lagEntries) + "</td><td>" + reach + "</td></tr>";
      }).join("");
      $("queues").tBodies[0].innerHTML = q.queues.length ? q.queues.map((x) => '<tr data-queue="' + esc(x.name) + '"><td>' + esc(x.name) + '</td><td class="num">' + x.ready + '</td><td class="num">' + x.delayed + '</td><td class="num">' + x.waiting + '</td><td class="num">' + x.leased + '</td><td class="num">' + x.done + '</td><td class="num">' + x.dead + '</td><td>' + (x.paused ? '<b class="paused">paused</b>' : "running") + "</td></tr>").join("") + (q.next ? '<tr><td colspan="8" class="muted">the first 500 queues by name; the rest: raftq queues --cursor ' + esc(q.next) + '</td></tr>' : "") : '<tr><td colspan="8" class="muted">no queues yet</td></tr>';
      samples.push({ t: Date.now(), enq: s.counters.enqueued, done: s.counters.completed });
      while (samples.length && samples[0].t < Date.now() - 300000) samples.shift();
      draw();
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (e.auth) { $("auth").style.display = "block"; $("main").style.display = "none"; $("error").textContent = sessionStorage.getItem("raftq-token") ? "That token was refused." : ""; }
      else $("error").textContent = "Cannot reach the node: " + e.message;
    }
  }
${jobBrowserScript}
  $("auth").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("raftq-token", $("token").value); $("token").value = ""; refresh(); });
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`;

export function statusPage(app: Hono, _ctx: ApiContext): void {
  // The page itself holds no data; it asks the API (with the token it is given).
  app.get("/", (c) => c.html(page));
}
