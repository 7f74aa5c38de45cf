// drgdip workbench: one page over the /v1 API. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  dx: [], px: [],            // the case's codes, principal first
  wiDx: [], wiPx: [],        // the what-if copy
  original: null,            // last results of the case (for the side-by-side)
  complications: {},         // code -> "MCC"/"CC" (from the explanation)
  wiComplications: {},       // the same, from the what-if case's own explanation
  loaded: null,
};

function token() { return sessionStorage.getItem("drgdip-token") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401) {
    $("token-box").hidden = false;
    throw new Error("this server needs a bearer token: enter it above");
  }
  return r;
}

async function apiJson(path, body) {
  const r = await api(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({ error: "the server's answer is not JSON" }));
  if (!r.ok) {
    const e = new Error(data.error + (data.field ? " (field " + data.field + ")" : ""));
    e.field = data.field;
    throw e;
  }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// ---------- loaded set ----------
async function showLoaded() {
  try {
    const d = await apiJson("/v1/schemes");
    state.loaded = d;
    const parts = d.schemes.map((s) => "DRG " + s.label);
    if (d.catalog) parts.push("DIP " + d.catalog.label);
    if (d.policy) parts.push("policy " + d.policy.name + " (" + d.policy.region + ")");
    $("loaded").textContent = parts.join(" · ");
    $("dip-card").hidden = !d.catalog;
  } catch (e) {
    $("loaded").textContent = e.message;
  }
}

// ---------- autocomplete ----------
let lookupTimer = null;
function autocomplete(input, list, kind) {
  input.addEventListener("input", () => {
    clearTimeout(lookupTimer);
    const q = input.value.trim();
    if (q.length < 1) return;
    lookupTimer = setTimeout(async () => {
      try {
        const d = await apiJson("/v1/codes?kind=" + kind + "&limit=20&q=" + encodeURIComponent(q));
        list.replaceChildren(...d.codes.map((c) => {
          const name = kind === "dx" ? c.dx_name : c.proc_name;
          const badge = c.mcc ? " [MCC]" : c.cc ? " [CC]" : "";
          return el("option", { value: c.code }, c.code + " " + (name || "") + badge + dipSummary(c.dip));
        }));
      } catch (_) { /* the look-up is a convenience */ }
    }, 120);
  });
}

// The DIP types of a code (from /v1/codes when a catalogue is loaded).
function dipTypes(dip) {
  if (!dip) return [];
  return dip.kind === "procedure" ? dip.procedure_of : dip.principal_of;
}

function dipSummary(dip) {
  const types = dipTypes(dip);
  if (!types.length) return "";
  return " · DIP " + types.slice(0, 3).map((t) => t.code).join(" ") + (types.length > 3 ? " …+" + (types.length - 3) : "");
}

function dipDetail(dip) {
  const head = dip.kind === "procedure" ? "DIP types listing this procedure" : "DIP types taking it as principal diagnosis";
  return head + ":\n" + dipTypes(dip).map((t) => t.code + " " + t.name + " (" + t.layer +
    (t.primary_care ? ", 基层病种" : "") + ", by " + t.by + ")").join("\n");
}

// Fetches what the loaded scheme and catalogue know of an entered code (name, DIP
// types) and shows it on its chip.
async function describeCode(entry, kind, rerender) {
  try {
    const d = await apiJson("/v1/codes?kind=" + kind + "&limit=1&q=" + encodeURIComponent(entry.code));
    const c = d.codes[0];
    if (!c || c.code.toUpperCase() !== entry.code.toUpperCase()) return;
    if (!entry.name) entry.name = kind === "dx" ? c.dx_name : c.proc_name;
    entry.dip = c.dip;
    rerender();
  } catch (_) { /* the detail is a convenience */ }
}

// The code from an input: "J18.900 肺炎" -> "J18.900".
function codeOf(text) { return text.trim().split(/\s+/)[0] || ""; }

// ---------- code chips ----------
function complicationsOf(explanation) {
  const m = {};
  for (const cx of explanation.complications) m[cx.code] = cx;
  return m;
}

function renderChips(listEl, codes, kind, onChange, complications) {
  listEl.replaceChildren(...codes.map((c, i) => {
    const li = el("li", { class: i === 0 ? "principal" : "" });
    li.append(el("span", { class: "code" }, c.code));
    if (c.name) li.append(el("span", { class: "name" }, c.name));
    if (c.known === false) li.append(el("span", { class: "badge unknown", title: "not in the scheme's dictionaries" }, "?"));
    if (dipTypes(c.dip).length) li.append(el("span", { class: "badge dip", title: dipDetail(c.dip) }, "DIP " + dipTypes(c.dip).length));
    const cx = kind === "dx" && i > 0 ? complications[c.code] : null;
    if (cx) li.append(el("span", { class: "badge " + cx.kind.toLowerCase() + (cx.excluded ? " excluded" : ""),
      title: "exclusion table " + cx.table + (cx.excluded ? ": excluded by the principal diagnosis" : "") }, cx.kind));
    if (i > 0) li.append(el("button", { type: "button", class: "mini promote", title: "make principal",
      onclick: () => { const [x] = codes.splice(i, 1); codes.unshift(x); onChange(); } }, "↑ principal"));
    li.append(el("button", { type: "button", class: "mini drop", title: "drop",
      onclick: () => { codes.splice(i, 1); onChange(); } }, "✕"));
    return li;
  }));
}

function renderCase() {
  renderChips($("dx-codes"), state.dx, "dx", renderCase, state.complications);
  renderChips($("px-codes"), state.px, "px", renderCase, {});
}

function addCode(input, codes, after, kind, rerender) {
  const code = codeOf(input.value);
  if (!code) return;
  const entry = { code, name: "" };
  codes.push(entry);
  input.value = "";
  after();
  describeCode(entry, kind, rerender);
}

// ---------- the case ----------
const FIELDS = ["case_id", "sex", "age", "age_days", "weight", "los", "dept", "discharge_way",
  "icu_days", "vent_hours", "total_cost", "hospital_id", "hospital_level", "insurance_type",
  "admit_date", "discharge_date"];

function caseOf(dx, px) {
  const c = {};
  for (const f of FIELDS) {
    const v = $(f).value.trim();
    if (v !== "") c[f] = v;
  }
  c.dx = dx.map((x) => x.code);
  c.px = px.map((x) => x.code);
  return c;
}

function money(v) { return v === undefined || v === null || v === "" ? "–" : "¥" + v; }

async function runCase() {
  $("case-error").textContent = "";
  const c = caseOf(state.dx, state.px);
  try {
    const ex = await apiJson("/v1/explain", { case: c });
    let priced = null, priceError = null;
    if (state.loaded && state.loaded.policy) {
      try { priced = await apiJson("/v1/price", { case: c }); } catch (e) { priceError = e.message; }
    }
    showResults(ex, priced, priceError);
    if (ex.drg) {
      const ch = await apiJson("/v1/changes", { case: c });
      showChanges(ch);
    }
    state.original = { ex, priced };
    if (!$("whatif").hidden) runWhatIf();
  } catch (e) {
    $("case-error").textContent = e.message;
  }
}

function showResults(ex, priced, priceError) {
  $("results").hidden = false;
  if (ex.drg) {
    const e = ex.drg.explanation;
    $("drg-code").textContent = e.result.drg;
    $("drg-name").textContent = e.result.name;
    $("drg-status").textContent = e.status + " · MDC " + e.result.mdc + " · ADRG " + e.result.adrg +
      (ex.drg.warnings ? " · " + ex.drg.warnings : "");
    state.complications = complicationsOf(e);
    // Names from the scheme for the chips.
    ex.drg.dx.forEach((d, i) => { if (state.dx[i]) { state.dx[i].name = d.name; state.dx[i].known = d.known; } });
    ex.drg.px.forEach((d, i) => { if (state.px[i]) { state.px[i].name = d.name; state.px[i].known = d.known; } });
    renderCase();
    renderTree(e);
  }
  if (ex.dip) {
    const d = ex.dip.explanation;
    $("dip-code").textContent = d.dip_code || "–";
    $("dip-name").textContent = d.name || "";
    $("dip-status").textContent = d.status + (d.layer ? " · " + d.layer : "") + (d.score ? " · score " + d.score : "");
  }
  const pay = (m) => priced && priced[m] ? priced[m].price : null;
  $("drg-pay").textContent = pay("drg") ? "payment " + money(pay("drg").payment_standard) + " · fund " +
    money(pay("drg").fund_outlay) + " · patient " + money(pay("drg").patient_share) : (priceError || "");
  $("dip-pay").textContent = pay("dip") ? "payment " + money(pay("dip").payment_standard) + " · fund " +
    money(pay("dip").fund_outlay) + " · patient " + money(pay("dip").patient_share) : (priceError || "");
}

// ---------- the explanation as a tree ----------
function facts(because) {
  if (!because || because.length === 0) return null;
  return el("ul", { class: "facts" }, ...because.map((b) => el("li", {}, b)));
}
function mark(ok) { return el("span", { class: ok ? "yes" : "no" }, ok ? "✓" : "✗"); }
function rule(text) { return el("code", { class: "rule" }, text || "(empty rule)"); }

function renderTree(e) {
  const root = el("ul", { class: "tree-root" });
  let mdcNode = null, adrgNode = null;
  let skipped = [];
  const flushSkipped = () => {
    if (skipped.length === 0) return;
    const det = el("details", {}, el("summary", {}, skipped.length + " MDC(s) not entered"));
    det.append(el("ul", {}, ...skipped.map((s) => el("li", {}, mark(false), " ", s.mdc, " ", s.name || "", " ",
      rule(s.rule), facts(s.failed)))));
    root.append(el("li", { class: "skipped" }, det));
    skipped = [];
  };
  for (const s of e.steps) {
    if (s.step === "mdc_skipped") { skipped.push(s); continue; }
    flushSkipped();
    switch (s.step) {
      case "invalid":
        root.append(el("li", { class: "bad" }, mark(false), " invalid: field ", el("code", {}, s.field), ": ", s.message));
        break;
      case "mdc_entered": {
        const ul = el("ul");
        mdcNode = ul;
        root.append(el("li", { class: "mdc" }, mark(true), " enter ", el("b", {}, s.mdc), " ", s.name || "", " ",
          rule(s.rule), facts(s.because), ul));
        break;
      }
      case "qy_check":
        (mdcNode || root).append(el("li", {}, mark(s.matched), " QY check ", rule(s.rule), facts(s.because)));
        break;
      case "adrg": {
        const ul = el("ul");
        adrgNode = ul;
        (mdcNode || root).append(el("li", { class: s.matched ? "adrg on" : "adrg" }, mark(s.matched), " ADRG ",
          el("b", {}, s.adrg), " ", s.name || "", " ", rule(s.rule), facts(s.because), ul));
        break;
      }
      case "split":
        (adrgNode || mdcNode || root).append(el("li", { class: s.matched ? "split on" : "split" }, mark(s.matched),
          " DRG ", el("b", {}, s.drg), " ", s.name || "", " if ", rule(s.condition), facts(s.because)));
        break;
      case "fallback":
        (adrgNode || root).append(el("li", {}, "no split holds: ", s.entry, " falls back to ", el("b", {}, s.result)));
        break;
      case "no_split":
        (adrgNode || root).append(el("li", {}, "no split holds and ", s.entry, " has no fallback: next ADRG"));
        break;
      case "fall_through":
        (mdcNode || root).append(el("li", {}, "no ADRG of ", s.mdc, " matched: next MDC"));
        mdcNode = null; adrgNode = null;
        break;
      case "no_match":
        root.append(el("li", { class: "bad" }, "no MDC gave a result: ", el("b", {}, s.result)));
        break;
      case "retry":
        root.append(el("li", {}, "retry with secondary procedure #", s.index, " ", el("code", {}, s.procedure), " alone"));
        mdcNode = null; adrgNode = null;
        break;
      default:
        root.append(el("li", {}, JSON.stringify(s)));
    }
  }
  flushSkipped();
  const head = el("div", { class: "tree-head" }, "scheme ", el("code", {}, e.scheme));
  if (e.principal_exclusion_table) head.append(" · principal diagnosis exclusion table ", el("code", {}, e.principal_exclusion_table));
  if (e.why) head.append(el("div", { class: "why" }, "why: " + e.why));
  $("explain-tree").replaceChildren(head, root);
}

// ---------- what would change the group ----------
function describeChange(c) {
  const what = { drop_diagnosis: "drop diagnosis", drop_procedure: "drop procedure",
    promote_diagnosis: "make principal diagnosis", promote_procedure: "make principal procedure" }[c.change] || c.change;
  return what;
}

function showChanges(ch) {
  const box = $("changes");
  if (!ch.changes.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No single drop or promotion changes the DRG (" + ch.original.drg + ")."));
    return;
  }
  const rows = ch.changes.map((c) => {
    const diff = c.difference;
    const cls = diff === undefined || diff === null ? "" : diff.startsWith("-") ? "down" : diff === "0" || diff === "0.00" ? "" : "up";
    return el("tr", {}, el("td", {}, describeChange(c)), el("td", {}, el("code", {}, c.code)), el("td", {}, c.name || ""),
      el("td", {}, el("b", {}, c.result.drg), " ", c.result.name), el("td", { class: "num" }, money(c.payment)),
      el("td", { class: "num " + cls }, diff === undefined || diff === null ? "–" : (cls === "up" ? "+" : "") + diff));
  });
  const head = el("tr", {}, ...["change", "code", "name", "new DRG", "payment", "difference"].map((h) => el("th", {}, h)));
  const note = ch.payment_error ? el("p", { class: "muted" }, "payments not shown: " + ch.payment_error)
    : el("p", { class: "muted" }, "original: " + ch.original.drg + " " + ch.original.drg_name + ", payment " + money(ch.original_payment));
  box.replaceChildren(note, el("table", { class: "changes" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}

// ---------- what-if ----------
function startWhatIf() {
  state.wiDx = state.dx.map((x) => Object.assign({}, x));
  state.wiPx = state.px.map((x) => Object.assign({}, x));
  $("whatif").hidden = false;
  renderWhatIf();
}

// The what-if chips; their MCC/CC badges are those of the what-if case (a promoted
// principal or a dropped code changes which secondaries count, and the exclusions).
function renderWhatIfChips() {
  renderChips($("wi-dx"), state.wiDx, "dx", renderWhatIf, state.wiComplications);
  renderChips($("wi-px"), state.wiPx, "px", renderWhatIf, {});
}

function renderWhatIf() {
  // Until the what-if case is explained, no badge is shown rather than a stale one.
  state.wiComplications = {};
  renderWhatIfChips();
  runWhatIf();
}

async function runWhatIf() {
  if (!state.original) return;
  const c = caseOf(state.wiDx, state.wiPx);
  let ex = null, priced = null, error = "";
  try {
    ex = await apiJson("/v1/explain", { case: c });
    state.wiComplications = ex.drg ? complicationsOf(ex.drg.explanation) : {};
    renderWhatIfChips();
    if (state.loaded && state.loaded.policy) priced = await apiJson("/v1/price", { case: c }).catch(() => null);
  } catch (e) { error = e.message; }
  const o = state.original;
  const line = (label, f) => el("tr", {}, el("th", {}, label), el("td", {}, f(o.ex, o.priced)),
    el("td", { class: "wi" }, error ? error : f(ex, priced)));
  const drg = (x) => x && x.drg ? x.drg.explanation.result.drg + " " + x.drg.explanation.result.name : "–";
  const dst = (x) => x && x.drg ? x.drg.explanation.status : "–";
  const dip = (x) => x && x.dip ? (x.dip.explanation.dip_code || "–") + " " + (x.dip.explanation.name || "") : "–";
  const pay = (m) => (_, p) => p && p[m] ? money(p[m].price.payment_standard) : "–";
  const codes = (list) => list.map((x) => x.code).join(", ");
  $("compare").replaceChildren(
    el("tr", {}, el("th", {}, ""), el("th", {}, "original"), el("th", {}, "what-if")),
    el("tr", {}, el("th", {}, "diagnoses"), el("td", {}, codes(state.dx)), el("td", { class: "wi" }, codes(state.wiDx))),
    el("tr", {}, el("th", {}, "procedures"), el("td", {}, codes(state.px)), el("td", { class: "wi" }, codes(state.wiPx))),
    line("DRG", (x) => drg(x)), line("status", (x) => dst(x)), line("DIP", (x) => dip(x)),
    line("DRG payment", pay("drg")), line("DIP payment", pay("dip")));
}

// ---------- batch ----------
function chart(groups) {
  if (!groups.length) return el("p", { class: "muted" }, "no grouped rows");
  const W = 720, bar = 18, gap = 4, left = 90, max = Math.max(...groups.map((g) => g[1]));
  const H = groups.length * (bar + gap) + 10;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("width", W);
  svg.setAttribute("class", "chart");
  groups.forEach(([name, n], i) => {
    const y = 5 + i * (bar + gap);
    const w = Math.max(1, (W - left - 70) * n / max);
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", left - 6); t.setAttribute("y", y + bar - 5); t.setAttribute("text-anchor", "end");
    t.textContent = name; svg.append(t);
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", left); r.setAttribute("y", y); r.setAttribute("width", w); r.setAttribute("height", bar);
    svg.append(r);
    const v = document.createElementNS(ns, "text");
    v.setAttribute("x", left + w + 6); v.setAttribute("y", y + bar - 5); v.textContent = n; svg.append(v);
  });
  return svg;
}

async function runBatch() {
  $("batch-error").textContent = "";
  const file = $("batch-file").files[0];
  if (!file) { $("batch-error").textContent = "choose a file first"; return; }
  const q = "method=" + $("batch-method").value + "&output=" + $("batch-output").value + "&format=" + $("batch-format").value;
  $("batch-done").hidden = true;
  $("batch-progress").hidden = false;
  $("batch-state").textContent = "uploading…";
  try {
    const r = await api("/v1/batch?" + q, { method: "POST", body: file });
    const started = await r.json();
    if (!r.ok) throw new Error(started.error + (started.field ? " (field " + started.field + ")" : ""));
    let s;
    for (;;) {
      s = await apiJson(started.status + (s && s.state === "done" ? "?groups=20" : ""));
      if (s.state === "done" && s.groups) break;
      if (s.state === "failed") throw new Error(s.error);
      if (s.state !== "done") {
        $("batch-bar").value = s.bytes_total ? s.bytes_read / s.bytes_total : 0;
        $("batch-state").textContent = s.state + " · " + s.rows_done + " rows";
        await new Promise((res) => setTimeout(res, 250));
      }
    }
    $("batch-bar").value = 1;
    $("batch-state").textContent = "done in " + s.seconds.toFixed(2) + " s";
    const counts = Object.entries(s.counts).map(([k, v]) => v + " " + k).join(", ");
    $("batch-summary").textContent = s.rows + " rows: " + counts + " · grouping rate " +
      (100 * s.grouping_rate).toFixed(1) + "%" + (s.warnings.length ? " · " + s.warnings.join("; ") : "");
    const res = await api(s.result);
    const blob = await res.blob();
    const a = $("batch-download");
    a.href = URL.createObjectURL(blob);
    a.download = "batch-" + s.id + ($("batch-format").value === "xlsx" ? ".xlsx" : ".csv");
    $("batch-chart").replaceChildren(el("h3", {}, "Cases per group (top " + s.groups.length + ")"), chart(s.groups));
    $("batch-done").hidden = false;
  } catch (e) {
    $("batch-error").textContent = e.message;
  }
}

// ---------- wiring ----------
function tab(which) {
  $("page-case").hidden = which !== "case";
  $("page-batch").hidden = which !== "batch";
  $("tab-case").classList.toggle("on", which === "case");
  $("tab-batch").classList.toggle("on", which === "batch");
}

window.addEventListener("DOMContentLoaded", () => {
  $("tab-case").onclick = () => tab("case");
  $("tab-batch").onclick = () => tab("batch");
  $("token-save").onclick = () => { sessionStorage.setItem("drgdip-token", $("token").value.trim()); $("token-box").hidden = true; showLoaded(); };
  autocomplete($("dx-input"), $("dx-list"), "dx");
  autocomplete($("px-input"), $("px-list"), "px");
  autocomplete($("wi-dx-input"), $("dx-list"), "dx");
  autocomplete($("wi-px-input"), $("px-list"), "px");
  $("dx-add").onclick = () => addCode($("dx-input"), state.dx, renderCase, "dx", renderCase);
  $("px-add").onclick = () => addCode($("px-input"), state.px, renderCase, "px", renderCase);
  $("wi-dx-add").onclick = () => addCode($("wi-dx-input"), state.wiDx, renderWhatIf, "dx", renderWhatIfChips);
  $("wi-px-add").onclick = () => addCode($("wi-px-input"), state.wiPx, renderWhatIf, "px", renderWhatIfChips);
  for (const [inp, btn] of [["dx-input", "dx-add"], ["px-input", "px-add"], ["wi-dx-input", "wi-dx-add"], ["wi-px-input", "wi-px-add"]]) {
    $(inp).addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); $(btn).click(); } });
  }
  $("run").onclick = runCase;
  $("whatif-start").onclick = startWhatIf;
  $("batch-run").onclick = runBatch;
  showLoaded();
});
