// The status page's job browser: a queue's jobs by state and page, a job's detail, retry, pause.
// Plain HTML and a script the page includes; it asks the API with the page's token.

export const jobBrowserSection = `
  <section id="jb" style="display:none">
    <h2>Jobs in <span id="jb-queue"></span> <button id="jb-pause" type="button"></button></h2>
    <div class="row">
      <label>state <select id="jb-state">
        <option value="">any</option><option>ready</option><option>delayed</option><option>waiting</option>
        <option>leased</option><option>done</option><option>dead</option>
        <option>cancelled</option><option>expired</option>
      </select></label>
      <label>group <input id="jb-group" size="14" placeholder="any"></label>
      <button id="jb-first" type="button">newest</button>
      <button id="jb-next" type="button">older</button>
      <span id="jb-error" class="bad"></span>
    </div>
    <p class="muted">limits: <span id="jb-limits"></span> · groups: <span id="jb-groups"></span></p>
    <table id="jb-jobs"><thead><tr><th>id</th><th>state</th><th>group</th><th class="num">attempts</th><th>created</th><th>last error</th></tr></thead><tbody></tbody></table>
    <div id="jb-detail" style="display:none">
      <h3>Job <span id="jb-id"></span> <button id="jb-retry" type="button" style="display:none">retry</button></h3>
      <pre id="jb-json"></pre>
    </div>
  </section>`;

/** Runs inside the page's script: uses its $, esc, headers() and get(). */
export const jobBrowserScript = `
  const jb = { queue: null, next: null, paused: false, job: null };
  async function send(method, path) {
    const r = await fetch(path, { method, headers: headers() });
    if (!r.ok) throw new Error(path + " answered " + r.status);
    return r.json();
  }
  const queuePath = () => "/v1/queues/" + encodeURIComponent(jb.queue);
  async function loadJobs(cursor) {
    try {
      const q = new URLSearchParams({ limit: "20" });
      if ($("jb-state").value) q.set("state", $("jb-state").value);
      if ($("jb-group").value) q.set("group", $("jb-group").value);
      if (cursor) q.set("cursor", cursor);
      const [page, view, groups] = await Promise.all([get(queuePath() + "/jobs?" + q), get(queuePath()), get(queuePath() + "/groups?limit=10")]);
      const c = view.config;
      $("jb-limits").textContent = [c.concurrency && "concurrency " + c.concurrency, c.groupConcurrency && "per group " + c.groupConcurrency, c.rateLimit && c.rateLimit.max + " per " + c.rateLimit.perMs + " ms", c.maxDepth && "depth " + c.maxDepth].filter(Boolean).join(", ") || "none";
      $("jb-groups").textContent = groups.groups.map((g) => g.group + " (" + g.ready + " ready, " + g.leased + " leased)").join(", ") + (groups.next ? ", …" : "") || "none";
      jb.next = page.next; jb.paused = view.paused;
      $("jb-next").disabled = !page.next;
      $("jb-pause").textContent = view.paused ? "resume" : "pause";
      $("jb-jobs").tBodies[0].innerHTML = page.jobs.length ? page.jobs.map((j) => '<tr data-job="' + esc(j.id) + '"><td><a href="#">' + esc(j.id) + "</a></td><td>" + esc(j.state) + "</td><td>" + esc(j.group ?? "") + '</td><td class="num">' + j.attempts + "/" + j.maxAttempts + "</td><td>" + new Date(j.createdAt).toLocaleString() + "</td><td>" + esc(j.lastError ?? "") + "</td></tr>").join("") : '<tr><td colspan="6" class="muted">no jobs</td></tr>';
      $("jb-error").textContent = "";
    } catch (e) { $("jb-error").textContent = e.message; }
  }
  async function showJob(id) {
    try {
      const j = await get("/v1/jobs/" + encodeURIComponent(id));
      jb.job = j;
      $("jb-id").textContent = j.id;
      $("jb-json").textContent = JSON.stringify(j, null, 2);
      $("jb-retry").style.display = j.state === "dead" ? "" : "none";
      $("jb-detail").style.display = "";
    } catch (e) { $("jb-error").textContent = e.message; }
  }
  $("queues").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-queue]");
    if (!row) return;
    jb.queue = row.dataset.queue;
    $("jb-queue").textContent = jb.queue;
    $("jb").style.display = ""; $("jb-detail").style.display = "none";
    loadJobs();
  });
  $("jb-jobs").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-job]");
    if (row) { ev.preventDefault(); showJob(row.dataset.job); }
  });
  $("jb-state").addEventListener("change", () => loadJobs());
  $("jb-group").addEventListener("change", () => loadJobs());
  $("jb-first").addEventListener("click", () => loadJobs());
  $("jb-next").addEventListener("click", () => jb.next && loadJobs(jb.next));
  $("jb-pause").addEventListener("click", async () => {
    try { await send("POST", queuePath() + (jb.paused ? "/resume" : "/pause")); } catch (e) { $("jb-error").textContent = e.message; }
    await loadJobs(); refresh();
  });
  $("jb-retry").addEventListener("click", async () => {
    try { await send("POST", queuePath() + "/dead/" + encodeURIComponent(jb.job.id) + "/retry"); } catch (e) { $("jb-error").textContent = e.message; }
    await showJob(jb.job.id); await loadJobs(); refresh();
  });`;
