/* Vigil status page: polls status.json and draws it (one HTML string the first time, then only the checks whose
   data changed), shows when Vigil is stale or unreachable, keeps the filter in the URL, and runs checks with a
   token kept in sessionStorage (this tab only). No dependencies; nothing is loaded from anywhere but Vigil. */
import {
  ago, barTip, cellLabels, checkHtml, countsHtml, detailsNote, headerHtml, readinessHtml, sectionHtml, shown,
  transitionsHtml,
} from "./status-view.js";

const POLL_MS = 2000; // while the tab is visible
const HIDDEN_POLL_MS = 15000; // while it is in the background
const MAX_BACKOFF_MS = 8000; // retrying an unreachable Vigil
const STALE_MS = 7000; // no successful poll for this long: the data on screen is marked stale
const TIMEOUT_MS = 8000;
const TOKEN_KEY = "vigil.token";

const $ = (id) => document.getElementById(id);
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const view = {
  data: null, etag: null, offsetMs: 0, lastOk: 0, error: "", failures: 0, timer: 0, inflight: false, again: false,
  runs: new Map(), cells: null, index: new Map(), ages: [], layout: "", drawn: new Map(), filterTimer: 0,
  target: "", scrolled: false,
};

const serverNow = () => (Date.now() + view.offsetMs) / 1000;
const context = () => ({
  cells: view.cells, runs: view.runs, index: view.index, now: serverNow(), runsEnabled: view.data.runsEnabled, details: view.data.details,
});
const filters = () => ({ q: $("q").value.trim().toLowerCase(), problems: $("problems").checked });
// What a check's rows were drawn from: its data and the state of a run started from this page.
const signature = (check) => {
  const run = view.runs.get(check.id);
  return JSON.stringify(check) + (run ? `${run.status}|${run.at}|${run.message}` : "");
};

// -- drawing ----------------------------------------------------------------------------------------------
// When the filter or the set of shown checks changed: one HTML string for everything. Otherwise only the checks
// (and component headers) whose data changed are replaced, every write before any read: one layout per poll.
function drawChecks(force) {
  const t0 = performance.now();
  const d = view.data, ctx = context(), f = filters();
  const groups = [];
  let count = 0;
  d.components.forEach((component, index) => {
    const checks = component.checks.filter((c) => shown(component, c, f));
    if (checks.length) groups.push({ component, index, checks });
    count += checks.length;
  });
  const layout = JSON.stringify([f, d.runsEnabled, ctx.cells && ctx.cells.span, groups.map((g) => [g.index, g.checks.map((c) => c.id)])]);
  const box = $("components");
  const active = document.activeElement;
  const focused = active && box.contains(active) ? active.dataset.run : null;
  if (force || layout !== view.layout) {
    view.layout = layout;
    view.drawn = new Map();
    const html = groups.map((g) => {
      const [sig, head] = headerHtml(g, ctx);
      view.drawn.set(`h:${g.index}`, sig);
      const rows = g.checks.map((c) => { const s = signature(c); view.drawn.set(c.id, s); return checkHtml(g.component, c, ctx); });
      return sectionHtml(g, head, rows.join(""), ctx);
    }).join("");
    const why = f.problems && !f.q ? "No problems: every check passes." : d.total ? "No check matches the filter." : "No checks are configured.";
    box.innerHTML = html || `<p class="empty">${why}</p>`;
  } else {
    for (const g of groups) {
      const [sig, head] = headerHtml(g, ctx);
      if (view.drawn.get(`h:${g.index}`) !== sig) $(`cmph-${g.index}`).outerHTML = head;
      view.drawn.set(`h:${g.index}`, sig);
      for (const c of g.checks) {
        const s = signature(c);
        if (view.drawn.get(c.id) !== s) $(`chk-${c.id}`).outerHTML = checkHtml(g.component, c, ctx);
        view.drawn.set(c.id, s);
      }
    }
  }
  if (focused && !box.contains(document.activeElement)) { // a redrawn button keeps the keyboard focus
    const again = box.querySelector(`button[data-run="${CSS.escape(focused)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  followTarget();
  $("shown").textContent = f.q || f.problems ? `Showing ${count} of ${d.total} checks` : `${d.total} checks`;
  view.ages = document.querySelectorAll("time[data-t]");
  performance.measure("vigil-render-checks", { start: t0 });
}

// A link to one check (`/status#chk-redis:ping`, as alerts send) opens before its row exists: the browser's own jump
// to the fragment found nothing. Scroll to the row once it is drawn, and keep it marked across redraws.
function followTarget() {
  if (!view.target) return;
  const row = document.getElementById(view.target);
  if (!row) return;
  row.classList.add("target");
  if (!view.scrolled) {
    view.scrolled = true;
    scrollToTarget(30, NaN);
  }
}

// Components off screen are laid out lazily (content-visibility: auto), so the row's place is known only after a
// frame or two: scroll again each frame until the row stops moving.
function scrollToTarget(frames, lastY) {
  const row = view.target && document.getElementById(view.target);
  if (!row) return;
  row.scrollIntoView({ block: "start" });
  const y = row.getBoundingClientRect().top + window.scrollY;
  if (frames > 0 && y !== lastY) requestAnimationFrame(() => scrollToTarget(frames - 1, y));
}

function targetFromHash() {
  const old = view.target && document.getElementById(view.target);
  if (old) old.classList.remove("target");
  let id = "";
  try { id = decodeURIComponent(location.hash.slice(1)); } catch { /* a malformed fragment names no check */ }
  [view.target, view.scrolled] = [id.startsWith("chk-") ? id : "", false];
  if (view.data) followTarget();
}

function draw() {
  const d = view.data, t0 = performance.now();
  view.cells = d.bar ? cellLabels(d.bar) : null;
  view.index = new Map();
  for (const c of d.components) for (const k of c.checks) view.index.set(k.id, k);
  const ctx = context();
  const [ready, html] = readinessHtml(d, ctx);
  $("readiness").dataset.ready = ready;
  $("readiness").innerHTML = html;
  $("counts").innerHTML = countsHtml(d);
  $("transitions").innerHTML = transitionsHtml(d, ctx);
  $("token-form").hidden = !d.runsEnabled;
  const note = detailsNote(d);
  $("details-note").textContent = note;
  $("details-note").hidden = !note;
  if (token() && !d.details && d.showDetails === "when_authorized") tokenState("The token was not accepted for details (expired?).");
  document.title = `${d.readiness.ready ? "Ready" : "Not ready"} · Vigil status`;
  drawChecks(false);
  document.body.dataset.version = String(d.version);
  performance.measure("vigil-render", { start: t0 });
}

// -- time and connection ----------------------------------------------------------------------------------
function tick() {
  const now = serverNow();
  for (const el of view.ages) {
    const text = ago(now - Number(el.dataset.t));
    if (el.textContent !== text) el.textContent = text;
  }
  const age = view.lastOk ? Date.now() - view.lastOk : 0;
  let state = "connecting", text = "Connecting…";
  if (view.error && (view.failures >= 2 || !view.lastOk || age > STALE_MS)) {
    state = "unreachable";
    text = `Vigil unreachable (${view.error}), retrying${view.lastOk ? "; the data shown is old" : ""}`;
  } else if (view.lastOk && age > STALE_MS) {
    [state, text] = ["stale", "Stale: no update is coming through"];
  } else if (view.lastOk) {
    [state, text] = ["live", "Live"];
  }
  if ($("conn").dataset.conn !== state) $("conn").dataset.conn = document.body.dataset.conn = state;
  if ($("conn-text").textContent !== text) $("conn-text").textContent = text; // a live region: written on change only
  const updated = view.lastOk ? `· updated ${ago(age / 1000)}` : "";
  if ($("conn-age").textContent !== updated) $("conn-age").textContent = updated;
}

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
      draw();
    }
    [view.lastOk, view.error, view.failures] = [Date.now(), "", 0];
  } catch (err) {
    view.failures += 1;
    view.error = err && err.name === "AbortError" ? "no answer in time" : (err && err.message) || "network error";
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

// -- token and runs ---------------------------------------------------------------------------------------
function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

function tokenState(text) {
  $("token-state").textContent = text || (token() ? "A token is set for this tab only." : "No token set.");
  $("forget").hidden = !token();
}

async function run(path) {
  const bearer = token();
  if (!bearer) {
    tokenState("Paste a token first: runs need one.");
    $("token").focus();
    return;
  }
  const [component, check] = path.split("/");
  const ids = check ? [`${component}:${check}`] : [...view.index.keys()].filter((id) => id.startsWith(`${component}:`));
  for (const id of ids) view.runs.set(id, { status: "running" });
  drawChecks(false);
  let message = "";
  try {
    const res = await fetch(`checks/${path.split("/").map(encodeURIComponent).join("/")}/run`, {
      method: "POST", headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" }, cache: "no-store",
    });
    const body = await res.json().catch(() => ({}));
    if (body && body.runs) { // 200, or 503 when a check fails: fresh results either way
      const at = serverNow();
      for (const [id, r] of Object.entries(body.runs)) view.runs.set(id, { status: r.status, output: r.output, cached: r.cached, at });
      $("announce").textContent = Object.entries(body.runs).map(([id, r]) => `${id}: ${r.status}, ${r.output}`).join("; ");
    } else {
      message = `${res.status === 401 ? "token refused" : `HTTP ${res.status}`}${body && body.detail ? `: ${body.detail}` : ""}`;
      if (res.status === 401) tokenState(`The token was refused: ${body.detail || "invalid"}.`);
    }
  } catch (err) {
    message = `Vigil unreachable (${(err && err.message) || "network error"})`;
  }
  if (message) {
    for (const id of ids) view.runs.set(id, { status: "error", message });
    $("announce").textContent = `Run refused: ${message}`;
  }
  drawChecks(false);
  poll();
}

// Tooltips are made on first hover, not with every draw: a time's date, a bar cell's span and runs.
function tooltip(e) {
  const el = e.target;
  if (el.tagName === "TIME" && !el.title) el.title = full.format(Number(el.dataset.t) * 1000);
  if (el.tagName !== "rect" || el.firstChild || !view.cells || !el.closest(".bar")) return;
  const check = view.index.get(el.closest("tbody.check").id.slice(4));
  if (!check) return;
  const title = document.createElementNS(el.namespaceURI, "title");
  title.textContent = barTip(check, Number(el.getAttribute("x")), Number(el.getAttribute("width")), view.cells);
  el.appendChild(title);
}

// -- the filter, kept in the URL --------------------------------------------------------------------------
function refilter() {
  const params = new URLSearchParams(location.search);
  const f = filters();
  if (f.q) params.set("q", f.q); else params.delete("q");
  if (f.problems) params.set("problems", "1"); else params.delete("problems");
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  if (view.data) drawChecks(false);
}

function start() {
  const params = new URLSearchParams(location.search);
  $("q").value = params.get("q") || "";
  $("problems").checked = params.get("problems") === "1";
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
    poll();
  });
  $("forget").addEventListener("click", () => {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing was kept */ }
    tokenState();
    poll();
  });
  $("components").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-run]");
    if (button && button.getAttribute("aria-disabled") !== "true") run(button.dataset.run); // busy: keeps its focus
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  document.addEventListener("mouseover", tooltip);
  window.addEventListener("hashchange", targetFromHash);
  targetFromHash();
  tokenState();
  poll();
  setInterval(tick, 1000);
}

start();
