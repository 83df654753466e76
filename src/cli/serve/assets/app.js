// logwarden serve: the page. Every value from a log is set as text (textContent, attributes),
// never parsed as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const MAX_ROWS = 1000;
const state = {
  range: "1h",
  view: null, // null: the live tail; else {label, from, to}
  stream: null,
  seq: 0,
  summary: null,
  keys: new Set(),
  ranged: false, // the first summary may widen the range to `all`
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function pad(n, w = 2) { return String(n).padStart(w, "0"); }

function fmtTime(us, withDate) {
  if (us === null || us === undefined) return "";
  const d = new Date(us / 1000);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}` : t;
}

function fmtDuration(us) {
  if (us === null || us === undefined) return "—";
  let s = Math.round(us / 1e6);
  if (s < 60) return `${s}s`;
  let m = Math.floor(s / 60); s %= 60;
  if (m < 60) return `${m}m ${pad(s)}s`;
  const h = Math.floor(m / 60); m %= 60;
  return `${h}h ${pad(m)}m`;
}

function filterParams() {
  const p = new URLSearchParams();
  const level = $("level").value, service = $("service").value;
  const text = $("text").value.trim(), fields = $("fields").value.trim();
  if (level) p.set("level", level);
  if (service) p.set("service", service);
  if (text) p.set("q", text);
  if (fields) p.set("field", fields);
  return p;
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(`${r.status} ${(await r.text()).trim()}`);
  return r.json();
}

// The chart: a bar per step and level, stacked; incidents shaded behind.
function drawChart(s) {
  const svg = $("chart");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 800, H = 180, top = 8, bottom = 18;
  const span = Math.max(1, s.to - s.from);
  const x = (t) => ((t - s.from) / span) * W;
  let max = 1;
  for (const [, counts] of s.bars) max = Math.max(max, counts.reduce((a, b) => a + b, 0));
  for (const i of s.incidents) {
    const start = Math.max(s.from, i.first_error_at);
    const end = Math.min(s.to, i.resolved_at ?? i.stopped_at ?? s.now);
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("class", "incident");
    r.setAttribute("x", x(start));
    r.setAttribute("y", 0);
    r.setAttribute("width", Math.max(2, x(end) - x(start)));
    r.setAttribute("height", H - bottom);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `incident: ${i.service}, ${i.errors} errors`;
    r.appendChild(title);
    svg.appendChild(r);
  }
  const bw = Math.max(1, (s.step / span) * W - 1);
  for (const [t, counts] of s.bars) {
    let y = H - bottom;
    counts.forEach((n, li) => {
      if (!n) return;
      const h = ((H - bottom - top) * n) / max;
      y -= h;
      const r = document.createElementNS(SVG, "rect");
      const level = s.levels[li];
      r.setAttribute("class", `bar l-${level}`);
      r.setAttribute("x", x(t));
      r.setAttribute("y", y);
      r.setAttribute("width", bw);
      r.setAttribute("height", Math.max(h, 0.5));
      r.setAttribute("data-from", t);
      r.setAttribute("data-to", t + s.step);
      r.setAttribute("data-level", level);
      r.setAttribute("tabindex", "-1");
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${fmtTime(t, true)}: ${n} ${level}`;
      r.appendChild(title);
      svg.appendChild(r);
    });
  }
  // Axis labels: the range's ends and its middle.
  for (const [t, anchor] of [[s.from, "start"], [s.from + span / 2, "middle"], [s.to, "end"]]) {
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", x(t));
    label.setAttribute("y", H - 5);
    label.setAttribute("text-anchor", anchor);
    label.textContent = fmtTime(t, s.range === "all" || s.range === "24h").slice(0, -7);
    svg.appendChild(label);
  }
  const axis = document.createElementNS(SVG, "text");
  axis.setAttribute("x", 4);
  axis.setAttribute("y", 12);
  axis.textContent = `${max}`;
  svg.appendChild(axis);
  const minutes = s.step / 60e6;
  $("step").textContent = minutes === 1 ? "minute" : minutes < 60 ? `${minutes} minutes` : `${minutes / 60} h`;
}

function drawLegend(s) {
  const legend = $("legend");
  legend.replaceChildren();
  const totals = s.levels.map((_, li) => s.bars.reduce((a, [, c]) => a + c[li], 0));
  s.levels.forEach((level, li) => {
    if (!totals[li]) return;
    const item = el("span");
    const swatch = el("i", `l-${level}`);
    item.append(swatch, `${level} ${totals[li]}`);
    legend.appendChild(item);
  });
}

function drawIncidents(s) {
  const body = $("incidents").tBodies[0];
  body.replaceChildren();
  for (const i of s.incidents) {
    const tr = el("tr", i.open ? "incident open" : "incident");
    tr.tabIndex = 0;
    const end = i.resolved_at ?? i.stopped_at;
    tr.append(
      el("td", "", i.service),
      el("td", "", fmtTime(i.opened_at, true)),
      el("td", "", i.open ? `${fmtDuration(s.now - i.first_error_at)}, open` : i.stopped_at && !i.resolved_at ? `${fmtDuration(end - i.first_error_at)}, process stopped` : fmtDuration(end - i.first_error_at)),
      el("td", "", i.errors),
      el("td", "", i.top_message),
    );
    const pick = () => showRange(`incident of ${i.service} from ${fmtTime(i.first_error_at, true)}`, i.first_error_at, (end ?? s.now) + 1, i.service);
    tr.addEventListener("click", pick);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    body.appendChild(tr);
  }
  $("no-incidents").hidden = s.incidents.length > 0;
  $("mttr").textContent = s.mttr === null ? "—" : `${fmtDuration(s.mttr)} over ${s.resolved} resolved`;
  $("rule").textContent = s.rule;
}

function drawServices(s) {
  const select = $("service");
  const have = new Set([...select.options].map((o) => o.value));
  for (const name of s.services) {
    if (!have.has(name)) select.appendChild(new Option(name, name));
  }
}

function summary(s) {
  state.summary = s;
  if (!state.ranged) {
    state.ranged = true;
    // Logs from before the range picked: show all of them rather than an empty chart.
    if (s.range !== "all" && s.last_at !== null && s.last_at < s.from) {
      $("range").value = "all";
      state.range = "all";
      loadSummary();
      return;
    }
  }
  drawChart(s);
  drawLegend(s);
  drawIncidents(s);
  drawServices(s);
  $("footer").textContent = `${s.lines} lines read · ${s.services.length} service(s) · updated ${fmtTime(s.now)}`;
}

function rowFor(line) {
  const tr = el("tr", "line");
  let fields = "";
  try {
    const record = JSON.parse(line.line);
    if (record && typeof record === "object" && !Array.isArray(record)) {
      for (const k of ["timestamp", "time", "ts", "@timestamp", "level", "severity", "message", "msg", "service"]) delete record[k];
      fields = Object.keys(record).length ? JSON.stringify(record) : "";
    }
  } catch (_) {
    fields = line.line;
  }
  if (line.cut) fields += " …(cut)";
  const level = line.level ?? "";
  tr.append(
    el("td", "time", fmtTime(line.at, state.range === "all" || state.range === "24h" || state.view !== null)),
    el("td", `level ${level}`, level),
    el("td", "service", line.service),
    el("td", "message", line.message ?? (line.level === null ? line.line : "")),
    el("td", "fields"),
  );
  // Clamped inside the cell, so the cell keeps the table's layout.
  tr.lastChild.appendChild(el("div", "", fields));
  tr.tabIndex = 0;
  tr.addEventListener("click", () => tr.classList.toggle("open"));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter") tr.classList.toggle("open"); });
  return tr;
}

const keyOf = (line) => `${line.at}\u0000${line.line}`;

function putRows(lines, fresh) {
  const body = $("logs").tBodies[0];
  if (!fresh) {
    body.replaceChildren();
    state.keys = new Set();
  }
  // `lines` is newest first; fresh lines go on top, the newest first.
  const rows = [];
  for (const line of lines) {
    const key = keyOf(line);
    if (state.keys.has(key)) continue;
    state.keys.add(key);
    const tr = rowFor(line);
    tr.dataset.key = key;
    if (fresh) tr.classList.add("fresh");
    rows.push(tr);
  }
  if (fresh) body.prepend(...rows); else body.append(...rows);
  while (body.rows.length > MAX_ROWS) {
    const last = body.rows[body.rows.length - 1];
    state.keys.delete(last.dataset.key);
    last.remove();
  }
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

async function loadLines() {
  const p = filterParams();
  if (state.view) {
    p.set("from", state.view.from);
    p.set("to", state.view.to);
  }
  p.set("limit", "300");
  try {
    const r = await getJSON(`/api/logs?${p}`);
    state.seq = r.seq;
    putRows(r.lines, false);
    $("more").hidden = !r.more;
    notice(r.unreadable.length ? `Could not read: ${r.unreadable.join(", ")}` : r.lines.length ? "" : "No line matches.");
  } catch (e) {
    notice(`${e.message}`);
  }
  connect();
}

async function loadSummary() {
  try {
    summary(await getJSON(`/api/summary?range=${encodeURIComponent(state.range)}`));
  } catch (e) {
    notice(`${e.message}`);
  }
}

function setStatus(text) {
  const s = $("status");
  s.textContent = text;
  s.className = text;
}

function connect() {
  if (state.stream) state.stream.close();
  const p = filterParams();
  p.set("since", state.seq);
  p.set("range", state.range);
  const es = new EventSource(`/api/events?${p}`);
  state.stream = es;
  es.onopen = () => setStatus("live");
  es.onerror = () => setStatus(es.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
  es.addEventListener("summary", (e) => summary(JSON.parse(e.data)));
  es.addEventListener("lines", (e) => {
    // A picked incident or minute stays as it is; the chart and incidents still move.
    if (state.view === null) putRows(JSON.parse(e.data), true);
  });
  es.addEventListener("gap", (e) => notice(`${e.data} lines went by too fast to show; the figures count them.`));
}

function showRange(label, from, to, service) {
  state.view = { label, from, to };
  $("view").textContent = label;
  $("back").hidden = false;
  if (service !== undefined && [...$("service").options].some((o) => o.value === service)) $("service").value = service;
  loadLines();
}

function backToLive() {
  state.view = null;
  $("view").textContent = "latest";
  $("back").hidden = true;
  loadLines();
}

let typing;
function refilter() {
  clearTimeout(typing);
  typing = setTimeout(loadLines, 250);
}

document.addEventListener("DOMContentLoaded", () => {
  $("range").addEventListener("change", () => {
    state.range = $("range").value;
    loadSummary();
    connect();
  });
  for (const id of ["level", "service"]) $(id).addEventListener("change", loadLines);
  for (const id of ["text", "fields"]) $(id).addEventListener("input", refilter);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadLines(); });
  $("back").addEventListener("click", backToLive);
  $("chart").addEventListener("click", (e) => {
    const bar = e.target.closest("rect.bar");
    if (!bar) return;
    const from = Number(bar.dataset.from), to = Number(bar.dataset.to);
    showRange(`${fmtTime(from, true).slice(0, -7)} – ${fmtTime(to).slice(0, -7)}`, from, to);
  });
  document.addEventListener("keydown", (e) => {
    const typingInField = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
    if (e.key === "/" && !typingInField) { e.preventDefault(); $("text").focus(); }
    if (e.key === "Escape" && state.view) backToLive();
  });
  loadSummary();
  loadLines();
});
