/* Vigil status page: HTML for status.json's data, as strings (no DOM here). `ctx` carries what is not in the
   data: the bar's cell labels, runs started from this page, whether runs are possible, the server's clock. */

export const STATES = ["pass", "warn", "fail", "pending"];
const LABEL = { pass: "Pass", warn: "Warn", fail: "Fail", pending: "Pending" };
const WORD = { p: "pass", w: "warn", f: "fail", "-": "no runs" };
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const BLOCKING_LISTED = 8; // failing critical checks listed at the top; the filter shows the rest
const hm = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayHm = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });

export const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESC[c]);

export function ago(seconds) {
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
const stamp = (t, ctx) => `<time data-t="${t}">${ago(ctx.now - t)}</time>`; // its title is made on hover

// -- the availability bar -------------------------------------------------------------------------------
export function cellLabels(meta) {
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
function bar(code, problems, cells) {
  const n = code.length;
  if (!n || !cells) return "";
  let rects = "";
  for (let i = 0; i < n;) {
    const c = code[i];
    let j = i + 1;
    if (c === "p" || c === "-") while (j < n && code[j] === c) j++;
    rects += `<rect class="b${c}" x="${i}" width="${j - i}" height="10"></rect>`;
    i = j;
  }
  const label = problems.length
    ? `${problems.length} of ${n} periods in the last ${cells.span} had warnings or failures`
    : code.includes("p") ? `no warnings or failures in the last ${cells.span}` : `no runs in the last ${cells.span}`;
  return `<span class="barw"><svg class="bar" viewBox="0 0 ${n} 10" preserveAspectRatio="none" role="img" aria-label="History: ${label}">${rects}</svg></span>`;
}

/** A bar rect's tooltip: its time span, the worst result in it, and the runs of a cell with a problem. */
export function barTip(check, first, width, cells) {
  const last = first + width - 1;
  let tip = `${cells.starts[first]} – ${last === check.bar.length - 1 ? "now" : cells.ends[last]}: ${WORD[check.bar[first]]}`;
  const p = check.barProblems.find((q) => q[0] === first);
  if (p) tip += ` (${p[3]} failed, ${p[2]} warned of ${p[1]} runs)`;
  return tip;
}

// -- one check ------------------------------------------------------------------------------------------
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

const availability = (windows) =>
  Object.entries(windows).map(([w, r]) => `<span>${w} ${pct(r)}</span>`).join("");

function runLine(run, ctx) {
  if (run.status === "running") return `<p class="run-result muted">Running now…</p>`;
  if (run.status === "error") return `<p class="run-result">${badge("fail", "Run refused")} ${esc(run.message)}</p>`;
  const cached = run.cached ? " (cached: it ran on demand moments ago)" : "";
  return `<p class="run-result" data-run-result="${run.status}">Run from this page ${stamp(run.at, ctx)}: ${badge(run.status)} ${esc(run.output)}${cached}</p>`;
}

const runButton = (path, label, busy, text = "Run") =>
  `<button type="button" data-run="${esc(path)}" aria-label="${esc(label)}"${busy ? ` aria-disabled="true"` : ""}>${text}</button>`;

export function shown(component, check, filter) {
  if (filter.problems && check.state === "pass" && !check.stale) return false;
  return !filter.q || check.id.includes(filter.q) || component.type.includes(filter.q);
}

const HELD = { fail: ["failed", "failing"], warn: ["warned", "ok"], pass: ["passed", "ok"] };
const WITHHELD = "reason withheld (see the note above the checks)";

/** `last run failed (1 of 3 before it is reported as failing)`: the latest run, where hysteresis holds it back. */
export function heldText(held) {
  const [word, reported] = HELD[held.status];
  return `last run ${word} (${held.runs} of ${held.needed} before it is reported as ${reported})`;
}

function heldHtml(check, details) {
  const held = check.unconfirmed;
  if (!held) return "";
  const why = held.output !== null ? esc(held.output) : details ? "" : `<span class="muted">${WITHHELD}</span>`;
  return `<p class="held s-${held.status}" data-held="${held.status}">${esc(LABEL[check.state])} · ` +
    `${esc(heldText(held))}${why ? `: ${why}` : ""}</p>`;
}

/** A check is one <tbody>: its row, then a row for its output, the latest run where it differs from the state
    shown, and the result of a run from this page. */
export function checkHtml(component, check, ctx) {
  const state = check.state;
  const run = ctx.runs.get(check.id);
  const last = check.lastRun === null ? `<span class="muted">never</span>` : stamp(check.lastRun, ctx);
  const stale = check.stale ? ` <span class="tag stale">stale</span>` : "";
  const maint = check.maintenance ? ` <span class="tag maint" title="${esc(check.maintenance.name)}">maintenance until ${esc(dayHm.format(check.maintenance.until * 1000))}</span>` : "";
  const heldTag = check.unconfirmed ? ` <span class="tag held s-${check.unconfirmed.status}">last run ${HELD[check.unconfirmed.status][0]}</span>` : "";
  const action = ctx.runsEnabled ? runButton(`${component.name}/${check.name}`, `Run ${check.id} now`, run && run.status === "running") : "";
  let output = "";
  if (state !== "pass" && check.output !== null) output = `<pre class="out s-${state}">${esc(check.output)}</pre>`;
  else if (state !== "pass" && !ctx.details && check.lastRun !== null) output = `<p class="out withheld muted">${WITHHELD}</p>`;
  output += heldHtml(check, ctx.details);
  const result = run ? runLine(run, ctx) : "";
  return `<tbody class="check" id="chk-${esc(check.id)}" data-state="${state}"><tr class="chk"><td class="st">${badge(state)}${heldTag}</td>` +
    `<th class="name" scope="row">${esc(check.name)}<span class="tag ${check.severity}">${check.severity}</span>${stale}${maint}</th>` +
    `<td class="last">${last}</td><td class="barc">${bar(check.bar, check.barProblems, ctx.cells)}</td>` +
    `<td class="avail">${availability(check.availability)}</td><td class="durc"><div class="dur">${spark(check.durations)}</div></td>` +
    `<td class="act">${action}</td></tr>${output || result ? `<tr class="more"><td colspan="7">${output}${result}</td></tr>` : ""}</tbody>`;
}

// -- a component ----------------------------------------------------------------------------------------
/** A component's header and what it depends on (to know when to redraw it). */
export function headerHtml(group, ctx) {
  const { component, index, checks } = group;
  const busy = component.checks.some((c) => (ctx.runs.get(c.id) || {}).status === "running");
  const runAll = ctx.runsEnabled ? runButton(component.name, `Run every check of ${component.name} now`, busy, "Run all") : "";
  const html = `<header id="cmph-${index}"><h2 id="cmp-${index}">${esc(component.name)}</h2><span class="tag">${esc(component.type)}</span>` +
    `${badge(component.status)}<span class="grow muted">${checks.length} of ${component.checks.length} checks</span>${runAll}</header>`;
  return [`${component.status}|${checks.length}|${busy}`, html];
}

export function sectionHtml(group, head, rows, ctx) {
  return `<section class="component" aria-labelledby="cmp-${group.index}">${head}` +
    `<table><caption class="vh">Checks of ${esc(group.component.name)}</caption><colgroup><col class="c-state"><col class="c-name">` +
    `<col class="c-last"><col class="c-bar"><col class="c-avail"><col class="c-dur"><col class="c-act"></colgroup>` +
    `<thead><tr><th scope="col">State</th><th scope="col">Check</th><th scope="col">Last run</th>` +
    `<th scope="col">Last ${ctx.cells ? ctx.cells.span : "24 h"}</th><th scope="col">Availability</th>` +
    `<th scope="col">Duration</th><th scope="col"><span class="vh">Actions</span></th></tr></thead>${rows}</table></section>`;
}

// -- the top of the page --------------------------------------------------------------------------------
/** Readiness and why: the verdict, the reason, the critical checks in the way (with their outputs, if shown). */
export function readinessHtml(d, ctx) {
  const r = d.readiness;
  const state = r.ready ? (r.status === "pass" && !r.unconfirmed.length ? "pass" : "warn") : "fail";
  let html = `<p class="verdict s-${state}">${icon()}<span id="verdict">${r.ready ? "Ready" : "Not ready"}</span></p>` +
    `<p class="since muted" id="since">since ${sinceHtml(r.since, ctx)}</p>` +
    `<p class="reason" id="reason">${esc(r.reason)}</p>`;
  if (r.starting) html += `<p class="muted">Starting: not every check has run yet.</p>`;
  if (r.blocking.length) {
    const items = r.blocking.slice(0, BLOCKING_LISTED).map((b) => {
      const check = ctx.index.get(b.id);
      const out = check && check.output !== null ? `: <span class="muted">${esc(check.output.split("\n")[0])}</span>` : "";
      return `<li>${badge(b.state)} <a href="#chk-${esc(b.id)}">${esc(b.id)}</a>${out}</li>`;
    });
    if (r.blocking.length > BLOCKING_LISTED) {
      items.push(`<li class="more">and ${r.blocking.length - BLOCKING_LISTED} more: ` +
        `<button type="button" class="link" id="show-problems">show only problems</button></li>`);
    }
    html += `<ul class="blocking" aria-label="Critical checks not passing">${items.join("")}</ul>`;
  } else if (r.warning.length || r.unconfirmed.length) {
    const ids = [...r.warning, ...r.unconfirmed.filter((id) => !r.warning.includes(id))];
    const items = ids.slice(0, BLOCKING_LISTED).map((id) => {
      const check = ctx.index.get(id);
      if (!check) return `<li>${esc(id)}</li>`;
      const held = check.unconfirmed && check.unconfirmed.status === "fail" ? ` <span class="muted">${esc(heldText(check.unconfirmed))}</span>` : "";
      return `<li>${badge(check.state)} <a href="#chk-${esc(id)}">${esc(id)}</a>${held}</li>`;
    });
    if (ids.length > BLOCKING_LISTED) items.push(`<li class="more">and ${ids.length - BLOCKING_LISTED} more</li>`);
    html += `<ul class="blocking problems" aria-label="Checks with problems">${items.join("")}</ul>`;
  }
  return [r.ready ? (state === "pass" ? "yes" : "warn") : "no", html];
}

export const countsHtml = (d) => STATES.map((s) => `<li data-count="${s}">${badge(s, `${d.counts[s]} ${s}`)}</li>`).join("");

export function transitionsHtml(d, ctx) {
  if (!d.transitions.length) return `<li class="muted">No state changes yet.</li>`;
  return d.transitions.map((t) => `<li>${stamp(t.at, ctx)} <a href="#chk-${esc(t.check)}">${esc(t.check)}</a> ` +
    `<span class="muted">${esc(t.from)} →</span> ${badge(t.to)}${t.reason === null ? "" : ` ${esc(t.reason)}`}</li>`).join("");
}

/** Why outputs are hidden and how to see them: the server's words (its show-details rule), or nothing. */
export const detailsNote = (d) => (d.details ? "" : d.detailsNote || "");

const sinceFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const sinceHtml = (t, ctx) => `${esc(sinceFormat.format(t * 1000))} (${stamp(t, ctx)})`;
