/* Vigil status page: polls status.json, renders it as one HTML string per change, and runs checks on demand
   with a token kept in sessionStorage (this tab only). No dependencies, nothing loaded from elsewhere. */
"use strict";
(() => {
  const POLL_MS = 2000; // while the tab is visible
  const HIDDEN_POLL_MS = 15000; // while it is in the background
  const MAX_BACKOFF_MS = 8000; // retrying an unreachable Vigil
  const STALE_MS = 7000; // no successful poll for this long: the data on screen is marked stale
  const TIMEOUT_MS = 8000;
  const TOKEN_KEY = "vigil.token";
  const BLOCKING_LISTED = 8; // failing critical checks listed at the top; the filter shows the rest
  const STATES = ["pass", "warn", "fail", "pending"];
  const LABEL = { pass: "Pass", warn: "Warn", fail: "Fail", pending: "Pending", running: "Running", error: "Error" };
  const WORD = { p: "pass", w: "warn", f: "fail", "-": "no runs" };
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  const $ = (id) => document.getElementById(id);
  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESC[c]);
  const view = {
    data: null, etag: null, offsetMs: 0, lastOk: 0, error: "", failures: 0, timer: 0, inflight: false,
    again: false, runs: new Map(), ages: [], cells: null, filterTimer: 0, layout: "", sigs: new Map(), index: new Map(),
  };
  const hm = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayHm = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  // -- formatting ---------------------------------------------------------------------------------------
  const serverNow = () => (Date.now() + view.offsetMs) / 1000;

  function ago(seconds) {
    if (seconds < 1.5) return "just now";
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  }

  function ms(value) {
    if (value < 1) return `${value.toFixed(2)} ms`;
    if (value < 100) return `${value.toFixed(1)} ms`;
    if (value < 1000) return `${Math.round(value)} ms`;
    return `${(value / 1000).toFixed(2)} s`;
  }

  const pct = (r) => (r === null || r === undefined ? "–" : r >= 1 ? "100%" : `${(Math.floor(r * 1000) / 10).toFixed(1)}%`);
  const icon = () => `<i class="ic" aria-hidden="true"></i>`; // drawn by CSS from the state class around it
  const badge = (state, text) => `<span class="badge s-${state}">${icon()}<span class="lbl">${esc(text || LABEL[state])}</span></span>`;
  const stamp = (t) => `<time data-t="${t}">${ago(serverNow() - t)}</time>`; // its title is made on hover

  // -- pieces of a row ----------------------------------------------------------------------------------
  function cellLabels(meta) {
    const starts = [], ends = [];
    for (let i = 0; i < meta.cells; i++) {
      const start = (meta.start + i * meta.cellSeconds) * 1000;
      starts.push(dayHm.format(start));
      ends.push(hm.format(start + meta.cellSeconds * 1000));
    }
    const hours = Math.round((meta.cells * meta.cellSeconds) / 3600);
    return { starts, ends, span: hours >= 1 ? `${hours} h` : `${Math.round((meta.cells * meta.cellSeconds) / 60)} min` };
  }

  // One rect per run of equal cells (a cell with a problem stays alone): a handful of elements per bar.
  function bar(code, problems) {
    const n = code.length;
    if (!n || !view.cells) return "";
    let rects = "";
    for (let i = 0; i < n;) {
      const c = code[i];
      let j = i + 1;
      if (c === "p" || c === "-") while (j < n && code[j] === c) j++;
      rects += `<rect class="b${c}" x="${i}" width="${j - i}" height="10"></rect>`;
      i = j;
    }
    const span = view.cells.span;
    const label = problems.length
      ? `${problems.length} of ${n} periods in the last ${span} had warnings or failures`
      : code.includes("p") ? `no warnings or failures in the last ${span}` : `no runs in the last ${span}`;
    return `<span class="barw"><svg class="bar" viewBox="0 0 ${n} 10" preserveAspectRatio="none" role="img" aria-label="History: ${label}">${rects}</svg></span>`;
  }

  function barTip(check, rect) {
    const cells = view.cells;
    const i = Number(rect.getAttribute("x")), j = i + Number(rect.getAttribute("width"));
    const code = check.bar[i];
    let tip = `${cells.starts[i]} – ${j === check.bar.length ? "now" : cells.ends[j - 1]}: ${WORD[code]}`;
    const p = check.barProblems.find((q) => q[0] === i);
    if (p) tip += ` (${p[3]} failed, ${p[2]} warned of ${p[1]} runs)`;
    return tip;
  }

  function spark(durations) {
    const n = durations.length;
    if (!n) return `<span class="muted">–</span>`;
    let min = Infinity, max = -Infinity;
    for (const d of durations) { if (d < min) min = d; if (d > max) max = d; }
    let svg = "";
    if (n > 1) {
      const range = max - min || 1, step = 60 / (n - 1);
      let points = "";
      for (let i = 0; i < n; i++) points += `${Math.round(i * step)},${Math.round(17 - ((durations[i] - min) / range) * 16)} `;
      svg = `<svg class="spark" viewBox="0 0 60 18" preserveAspectRatio="none" role="img" aria-label="Durations of the last ${n} runs: ${ms(min)} to ${ms(max)}"><polyline points="${points}"></polyline></svg>`;
    }
    return `${svg}<span>${ms(durations[n - 1])}</span>`;
  }

  function availability(windows) {
    return Object.entries(windows).map(([w, r]) => `<span><abbr title="availability over ${w}">${w}</abbr> ${pct(r)}</span>`).join("");
  }

  function runLine(run) {
    if (run.status === "running") return `<p class="run-result muted">Running now…</p>`;
    if (run.status === "error") return `<p class="run-result">${badge("fail", "Run refused")} ${esc(run.message)}</p>`;
    const cached = run.cached ? " (cached: it ran on demand moments ago)" : "";
    return `<p class="run-result" data-run-result="${run.status}">Run from this page ${stamp(run.at)}: ${badge(run.status)} ${esc(run.output)}${cached}</p>`;
  }

  const runButton = (path, label, busy, text = "Run") =>
    `<button type="button" data-run="${esc(path)}" aria-label="${esc(label)}"${busy ? ` aria-disabled="true"` : ""}>${text}</button>`;

  const runSig = (id) => { const r = view.runs.get(id); return r ? `${r.status}|${r.at}|${r.message}` : ""; };

  // A check is one <tbody>: its row, and a second row for its output and the result of a run from this page.
  function group(component, check, runs, sig) {
    view.sigs.set(check.id, sig);
    const state = check.state;
    const run = view.runs.get(check.id);
    const last = check.lastRun === null ? `<span class="muted">never</span>` : stamp(check.lastRun);
    const stale = check.stale ? ` <span class="tag stale">stale</span>` : "";
    const action = runs ? runButton(`${component.name}/${check.name}`, `Run ${check.id} now`, run && run.status === "running") : "";
    const output = check.output !== null && state !== "pass" ? `<pre class="out s-${state}">${esc(check.output)}</pre>` : "";
    const result = run ? runLine(run) : "";
    return `<tbody class="check" id="chk-${esc(check.id)}" data-state="${state}"><tr class="chk"><td class="st">${badge(state)}</td>` +
      `<th class="name" scope="row">${esc(check.name)}<span class="tag ${check.severity}">${check.severity}</span>${stale}</th>` +
      `<td class="last">${last}</td><td class="barc">${bar(check.bar, check.barProblems)}</td>` +
      `<td class="avail">${availability(check.availability)}</td><td class="durc"><div class="dur">${spark(check.durations)}</div></td>` +
      `<td class="act">${action}</td></tr>${output || result ? `<tr class="more"><td colspan="7">${output}${result}</td></tr>` : ""}</tbody>`;
  }

  function header(g, runs) {
    const { component, index, checks } = g;
    const busy = component.checks.some((c) => (view.runs.get(c.id) || {}).status === "running");
    const sig = `${component.status}|${checks.length}|${busy}`;
    const runAll = runs ? runButton(component.name, `Run every check of ${component.name} now`, busy, "Run all") : "";
    return [sig, `<header id="cmph-${index}"><h2 id="cmp-${index}">${esc(component.name)}</h2><span class="tag">${esc(component.type)}</span>` +
      `${badge(component.status)}<span class="grow muted">${checks.length} of ${component.checks.length} checks</span>${runAll}</header>`];
  }

  function section(g, d) {
    const checks = g.checks.map((c) => group(g.component, c, d.runsEnabled, JSON.stringify(c) + runSig(c.id))).join("");
    const [sig, head] = header(g, d.runsEnabled);
    view.sigs.set(`h:${g.index}`, sig);
    return `<section class="component" aria-labelledby="cmp-${g.index}">${head}` +
      `<table><caption class="vh">Checks of ${esc(g.component.name)}</caption><colgroup><col class="c-state"><col class="c-name">` +
      `<col class="c-last"><col class="c-bar"><col class="c-avail"><col class="c-dur"><col class="c-act"></colgroup>` +
      `<thead><tr><th scope="col">State</th><th scope="col">Check</th><th scope="col">Last run</th>` +
      `<th scope="col">Last ${view.cells ? view.cells.span : "24 h"}</th><th scope="col">Availability</th>` +
      `<th scope="col">Duration</th><th scope="col"><span class="vh">Actions</span></th></tr></thead>${checks}</table></section>`;
  }

  // -- whole sections -----------------------------------------------------------------------------------
  function filters() {
    return { q: $("q").value.trim().toLowerCase(), problems: $("problems").checked };
  }

  function shown(component, check, f) {
    if (f.problems && check.state === "pass" && !check.stale) return false;
    return !f.q || check.id.includes(f.q) || component.type.includes(f.q);
  }

  // The first time, or when the filter or the set of checks changed: one HTML string for everything. Otherwise
  // only the checks (and component headers) whose data changed are replaced, all written before anything is read.
  function renderComponents(d, force) {
    const t0 = performance.now();
    const f = filters();
    const groups = [];
    let count = 0;
    d.components.forEach((component, index) => {
      const checks = component.checks.filter((c) => shown(component, c, f));
      if (checks.length) groups.push({ component, index, checks });
      count += checks.length;
    });
    const layout = JSON.stringify([f, d.runsEnabled, view.cells && view.cells.span, groups.map((g) => [g.index, g.checks.map((c) => c.id)])]);
    const box = $("components");
    const active = document.activeElement;
    const focused = active && box.contains(active) ? active.dataset.run : null;
    if (force || layout !== view.layout) {
      view.layout = layout;
      view.sigs = new Map();
      let html = groups.map((g) => section(g, d)).join("");
      if (!html) {
        const why = f.problems && !f.q ? "No problems: every check passes." : d.total ? "No check matches the filter." : "No checks are configured.";
        html = `<p class="empty">${why}</p>`;
      }
      box.innerHTML = html;
    } else {
      for (const g of groups) {
        const [sig, html] = header(g, d.runsEnabled);
        if (view.sigs.get(`h:${g.index}`) !== sig) $(`cmph-${g.index}`).outerHTML = html;
        view.sigs.set(`h:${g.index}`, sig);
        for (const c of g.checks) {
          const sig = JSON.stringify(c) + runSig(c.id);
          if (view.sigs.get(c.id) !== sig) $(`chk-${c.id}`).outerHTML = group(g.component, c, d.runsEnabled, sig);
        }
      }
    }
    if (focused && !box.contains(document.activeElement)) {
      const again = box.querySelector(`button[data-run="${CSS.escape(focused)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    $("shown").textContent = f.q || f.problems ? `Showing ${count} of ${d.total} checks` : `${d.total} checks`;
    view.ages = document.querySelectorAll("time[data-t]");
    performance.measure("vigil-render-checks", { start: t0 });
  }

  function renderOverview(d) {
    const r = d.readiness;
    const state = r.ready ? (r.status === "pass" ? "pass" : "warn") : "fail";
    const box = $("readiness");
    box.dataset.ready = r.ready ? (state === "pass" ? "yes" : "warn") : "no";
    let html = `<p class="verdict s-${state}">${icon()}<span id="verdict">${r.ready ? "Ready" : "Not ready"}</span></p>` +
      `<p class="reason" id="reason">${esc(r.reason)}</p>`;
    if (r.starting) html += `<p class="muted">Starting: not every check has run yet.</p>`;
    if (r.blocking.length) {
      const items = r.blocking.slice(0, BLOCKING_LISTED).map((b) => {
        const check = view.index.get(b.id);
        const out = check && check.output !== null ? `: <span class="muted">${esc(check.output.split("\n")[0])}</span>` : "";
        return `<li>${badge(b.state)} <a href="#chk-${esc(b.id)}">${esc(b.id)}</a>${out}</li>`;
      });
      if (r.blocking.length > BLOCKING_LISTED) {
        items.push(`<li class="more">and ${r.blocking.length - BLOCKING_LISTED} more: <button type="button" class="link" id="show-problems">show only problems</button></li>`);
      }
      html += `<ul class="blocking" aria-label="Critical checks not passing">${items.join("")}</ul>`;
    }
    box.innerHTML = html;
    $("counts").innerHTML = STATES.map((s) => `<li data-count="${s}">${badge(s, `${d.counts[s]} ${s}`)}</li>`).join("");
    $("transitions").innerHTML = d.transitions.length
      ? d.transitions.map((t) => `<li>${stamp(t.at)} <a href="#chk-${esc(t.check)}">${esc(t.check)}</a> ` +
          `<span class="muted">${esc(t.from)} →</span> ${badge(t.to)}${t.reason === null ? "" : ` ${esc(t.reason)}`}</li>`).join("")
      : `<li class="muted">No state changes yet.</li>`;
    document.title = `${r.ready ? "Ready" : "Not ready"} · Vigil status`;
  }

  function renderNotes(d) {
    $("token-form").hidden = !d.runsEnabled;
    const note = $("details-note");
    let text = "";
    if (!d.details && d.showDetails === "never") text = "Check outputs are not shown here (server.show_details: never).";
    else if (!d.details && d.runsEnabled) text = "Check outputs are hidden until a valid token is set (server.show_details: when_authorized).";
    else if (!d.details) text = "Check outputs are hidden (server.show_details: when_authorized, and no auth is configured).";
    note.textContent = text;
    note.hidden = !text;
    if (token() && !d.details && d.showDetails === "when_authorized") tokenState("The token was not accepted for details (expired?).");
  }

  function render() {
    const d = view.data;
    if (!d) return;
    const t0 = performance.now();
    view.cells = d.bar ? cellLabels(d.bar) : null;
    view.index = new Map();
    for (const c of d.components) for (const k of c.checks) view.index.set(k.id, k);
    renderOverview(d);
    renderNotes(d);
    renderComponents(d);
    document.body.dataset.version = String(d.version);
    performance.measure("vigil-render", { start: t0 });
  }

  // -- time, connection state ---------------------------------------------------------------------------
  function tick() {
    const now = serverNow();
    for (const el of view.ages) {
      const text = ago(now - Number(el.dataset.t));
      if (el.textContent !== text) el.textContent = text;
    }
    connection();
  }

  function connection() {
    const age = view.lastOk ? (Date.now() - view.lastOk) / 1000 : 0;
    let state, text;
    if (view.error && (view.failures >= 2 || !view.lastOk || age * 1000 > STALE_MS)) {
      state = "unreachable";
      text = `Vigil unreachable (${view.error}), retrying${view.lastOk ? "; the data shown is old" : ""}`;
    } else if (view.lastOk && age * 1000 > STALE_MS) {
      state = "stale";
      text = "Stale: no update is coming through";
    } else if (view.lastOk) {
      state = "live";
      text = "Live";
    } else {
      state = "connecting";
      text = "Connecting…";
    }
    const conn = $("conn");
    if (conn.dataset.conn !== state) {
      conn.dataset.conn = state;
      document.body.dataset.conn = state;
    }
    if ($("conn-text").textContent !== text) $("conn-text").textContent = text; // a live region: only on change
    const ageText = view.lastOk ? `· updated ${ago(age)}` : "";
    if ($("conn-age").textContent !== ageText) $("conn-age").textContent = ageText;
  }

  // -- polling ------------------------------------------------------------------------------------------
  async function poll() {
    clearTimeout(view.timer);
    if (view.inflight) { view.again = true; return; }
    view.inflight = true;
    const headers = { Accept: "application/json" };
    const bearer = token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (view.etag) headers["If-None-Match"] = view.etag;
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), TIMEOUT_MS);
    const sent = Date.now();
    try {
      const res = await fetch("status.json", { headers, cache: "no-store", signal: abort.signal });
      const server = Number.parseFloat(res.headers.get("x-vigil-time") || "");
      if (!Number.isNaN(server)) view.offsetMs = server * 1000 - (sent + Date.now()) / 2;
      if (res.status !== 304) {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        view.data = await res.json();
        view.etag = res.headers.get("etag");
        render();
      }
      view.lastOk = Date.now();
      view.error = "";
      view.failures = 0;
    } catch (err) {
      view.failures += 1;
      view.error = err && err.name === "AbortError" ? "no answer in time" : err && err.message ? err.message : "network error";
    } finally {
      clearTimeout(timeout);
      view.inflight = false;
    }
    tick();
    const base = document.hidden ? HIDDEN_POLL_MS : POLL_MS;
    const delay = view.again ? 0 : view.failures ? Math.min(MAX_BACKOFF_MS, base * 2 ** (view.failures - 1)) : base;
    view.again = false;
    view.timer = setTimeout(poll, delay);
  }

  // -- token and runs -----------------------------------------------------------------------------------
  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
  }

  function tokenState(text) {
    $("token-state").textContent = text || (token() ? "A token is set for this tab only." : "No token set.");
    $("forget").hidden = !token();
  }

  function announce(text) {
    $("announce").textContent = text;
  }

  async function run(path) {
    const d = view.data;
    const bearer = token();
    if (!bearer) {
      tokenState("Paste a token first: runs need one.");
      $("token").focus();
      return;
    }
    const [component, check] = path.split("/");
    const ids = check ? [`${component}:${check}`] : (d.components.find((c) => c.name === component) || { checks: [] }).checks.map((c) => c.id);
    for (const id of ids) view.runs.set(id, { status: "running" });
    renderComponents(d);
    const url = `checks/${path.split("/").map(encodeURIComponent).join("/")}/run`;
    let message = "";
    try {
      const res = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" }, cache: "no-store" });
      const body = await res.json().catch(() => ({}));
      if (body && body.runs) {
        const at = serverNow();
        for (const [id, r] of Object.entries(body.runs)) view.runs.set(id, { status: r.status, output: r.output, cached: r.cached, at });
        announce(Object.entries(body.runs).map(([id, r]) => `${id}: ${r.status}, ${r.output}`).join("; "));
      } else {
        message = `${res.status === 401 ? "token refused" : `HTTP ${res.status}`}${body && body.detail ? `: ${body.detail}` : ""}`;
        if (res.status === 401) tokenState(`The token was refused: ${body.detail || "invalid"}.`);
      }
    } catch (err) {
      message = `Vigil unreachable (${err && err.message ? err.message : "network error"})`;
    }
    if (message) {
      for (const id of ids) view.runs.set(id, { status: "error", message });
      announce(`Run refused: ${message}`);
    }
    renderComponents(view.data);
    poll();
  }

  // Tooltips are made when first hovered, not with every render: exact times, and each bar cell's span and runs.
  function tooltip(e) {
    const el = e.target;
    if (el.tagName === "TIME" && !el.title) el.title = full.format(Number(el.dataset.t) * 1000);
    if (el.tagName !== "rect" || el.firstChild || !el.closest(".bar")) return;
    const check = view.index.get(el.closest("tbody.check").id.slice(4));
    if (!check || !view.cells) return;
    const title = document.createElementNS(el.namespaceURI, "title");
    title.textContent = barTip(check, el);
    el.appendChild(title);
  }

  // -- filters in the URL -------------------------------------------------------------------------------
  function readUrl() {
    const params = new URLSearchParams(location.search);
    $("q").value = params.get("q") || "";
    $("problems").checked = params.get("problems") === "1";
  }

  function writeUrl() {
    const params = new URLSearchParams(location.search);
    const f = filters();
    if (f.q) params.set("q", f.q); else params.delete("q");
    if (f.problems) params.set("problems", "1"); else params.delete("problems");
    const query = params.toString();
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }

  function refilter() {
    writeUrl();
    if (view.data) renderComponents(view.data);
  }

  function start() {
    readUrl();
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("q").addEventListener("input", () => {
      clearTimeout(view.filterTimer);
      view.filterTimer = setTimeout(refilter, 120);
    });
    $("problems").addEventListener("change", refilter);
    $("readiness").addEventListener("click", (e) => {
      if (e.target.id !== "show-problems") return;
      $("problems").checked = true;
      refilter();
      $("components").focus();
    });
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const value = $("token").value.trim().replace(/^bearer\s+/i, "");
      $("token").value = "";
      if (!value) return;
      try { sessionStorage.setItem(TOKEN_KEY, value); } catch { tokenState("This browser refuses session storage."); return; }
      tokenState();
      view.etag = null;
      poll();
    });
    $("forget").addEventListener("click", () => {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing kept */ }
      tokenState();
      view.etag = null;
      poll();
    });
    $("components").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-run]");
      if (button && button.getAttribute("aria-disabled") !== "true") run(button.dataset.run); // busy: keeps its focus
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
    document.addEventListener("mouseover", tooltip);
    tokenState();
    poll();
    setInterval(tick, 1000);
  }

  start();
})();
