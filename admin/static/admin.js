// The Broadsheet admin page. It talks only to the JSON API (/api/...), with the session
// cookie set by logging in; every change carries the session's CSRF token. Data is put
// into the page with textContent, never as HTML.
"use strict";

const state = { csrf: null, reports: [], retailers: [], polling: null };

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.errors = (body && body.errors) || [];
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && path !== "/api/session") showLogin("Your session has ended; log in again.");
    throw new ApiError(response.status, data);
  }
  return data;
}

function say(id, text, kind = "error") {
  const node = $(id);
  node.className = `message ${kind}`;
  node.replaceChildren(text);
}

function sayError(id, err) {
  const node = $(id);
  node.className = "message error";
  // Itemise what was wrong (each bad address with its reason) when the API says.
  const items = err.errors.some((e) => e.value)
    ? el("ul", {}, err.errors.map((e) => el("li", { class: "bad-address" },
        e.value ? el("code", {}, e.value) : null, e.value ? ": " : "", e.reason)))
    : null;
  node.replaceChildren(err.message, items || "");
}

// --- login ----------------------------------------------------------------------------------

function showLogin(message) {
  state.csrf = null;
  clearInterval(state.polling);
  $("#dashboard").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  say("#login-message", message || "", message ? "error" : "info");
  $("#login-key").value = "";
  $("#login-key").focus();
}

async function showDashboard() {
  $("#login").hidden = true;
  $("#dashboard").hidden = false;
  $("#logout").hidden = false;
  await Promise.all([loadReports(), loadLists(), loadRetailers(), loadDiscovery(), loadTestSends(), loadRuns()]);
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const session = await api("POST", "/api/session", { key: $("#login-key").value });
    state.csrf = session.csrf_token;
    await showDashboard();
  } catch (err) {
    say("#login-message", err.message);
  }
});

$("#logout").addEventListener("click", async () => {
  try { await api("DELETE", "/api/session"); } finally { showLogin("You are logged out."); }
});

// --- tabs -----------------------------------------------------------------------------------

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    for (const other of document.querySelectorAll("#tabs button")) other.classList.toggle("active", other === button);
    for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== button.dataset.tab;
    if (button.dataset.tab === "runs") loadRuns();
  });
}

// --- reports --------------------------------------------------------------------------------

function lastRun(run) {
  if (!run) return "never";
  return `${run.as_of}: ${run.status}${run.test ? " (test)" : ""}, ${run.ok}/${run.targets} ok`;
}

async function loadReports() {
  state.reports = await api("GET", "/api/reports");
  const rows = state.reports.map((r) => el("tr", { dataset: { report: r.name } },
    el("td", {}, el("strong", {}, r.title), el("br"), el("code", {}, r.name)),
    el("td", {}, r.schedule), el("td", {}, r.fan_out),
    el("td", { class: r.last_run ? r.last_run.status : "" }, lastRun(r.last_run)),
    el("td", {}, el("input", {
      type: "checkbox", checked: r.enabled, disabled: !r.declared_enabled,
      title: r.declared_enabled ? "switch on or off" : "disabled in its parameters file",
      "aria-label": `enable ${r.name}`, onchange: (e) => toggleReport(r.name, e.target),
    }))));
  $("#reports-table tbody").replaceChildren(...rows);
  $("#ts-report").replaceChildren(...state.reports.map((r) => el("option", { value: r.name }, r.title)));
}

async function toggleReport(name, box) {
  try {
    const report = await api("PUT", `/api/reports/${encodeURIComponent(name)}/enabled`, { enabled: box.checked });
    say("#reports-message", `${report.title} is ${report.enabled ? "on" : "off"}.`, "ok");
  } catch (err) {
    box.checked = !box.checked;
    sayError("#reports-message", err);
  }
}

// --- lists ----------------------------------------------------------------------------------

const LIST_TITLES = { board: "Board", smt: "SMT", admin: "Admins (failure alerts)" };

async function loadLists() {
  const lists = await api("GET", "/api/lists");
  $("#lists").replaceChildren(...lists.map((list) => {
    const area = el("textarea", { id: `list-${list.name}`, rows: 4, "aria-label": `${list.name} list` },
      list.addresses.join("\n"));
    const message = el("p", { class: "message", id: `list-${list.name}-message`, role: "alert" });
    const save = el("button", { type: "button", onclick: () => saveList(list.name) }, "Save");
    return el("div", { class: "list", dataset: { list: list.name } },
      el("h3", {}, LIST_TITLES[list.name] || list.name), area, save,
      el("p", { class: "hint" }, "While empty: ", list.fallback.join(", ") || "nobody"), message);
  }));
}

async function saveList(name) {
  const addresses = $(`#list-${name}`).value.split(/[\n,;]+/).map((a) => a.trim()).filter(Boolean);
  try {
    const list = await api("PUT", `/api/lists/${name}`, { addresses });
    $(`#list-${name}`).value = list.addresses.join("\n");
    say(`#list-${name}-message`, `Saved ${list.addresses.length} address(es).`, "ok");
  } catch (err) {
    sayError(`#list-${name}-message`, err);
  }
}

// --- retailers ------------------------------------------------------------------------------

async function loadRetailers() {
  const data = await api("GET", "/api/retailers");
  state.retailers = data.retailers;
  $("#retailers-snapshot").replaceChildren(data.snapshot
    ? `From the ${data.snapshot.source} snapshot of ${data.snapshot.as_of}.`
    : "No snapshot yet: run discovery or a report.");
  drawRetailers();
  $("#ts-targets").replaceChildren(...state.retailers.map((r) => el("option", { value: r.id }, r.name || r.id)));
}

function drawRetailers() {
  const q = $("#retailers-filter").value.trim().toLowerCase();
  const shown = state.retailers.filter((r) => !q || r.id.toLowerCase().includes(q) || (r.name || "").toLowerCase().includes(q));
  $("#retailers-table tbody").replaceChildren(...shown.map((r) => {
    const extras = el("input", { type: "text", value: r.extras.join(", "), "aria-label": `extras of ${r.id}` });
    const optOut = el("input", { type: "checkbox", checked: r.opted_out, "aria-label": `opt-out of ${r.id}` });
    const enablement = el("select", { "aria-label": `enablement of ${r.id}` },
      ["enabled", "pending", "disabled"].map((v) => el("option", { value: v, selected: v === r.enablement }, v)));
    const save = el("button", { type: "button", onclick: () => saveRetailer(r.id, extras, optOut, enablement) }, "Save");
    return el("tr", { dataset: { retailer: r.id } },
      el("td", {}, r.name || "–", el("br"), el("code", {}, r.id)), el("td", {}, r.status || "–"),
      el("td", {}, r.primary_contact || "–"), el("td", {}, extras), el("td", {}, optOut),
      el("td", {}, enablement), el("td", {}, save));
  }));
}

$("#retailers-filter").addEventListener("input", drawRetailers);

async function saveRetailer(id, extras, optOut, enablement) {
  const body = {
    extras: extras.value.split(/[\n,;]+/).map((a) => a.trim()).filter(Boolean),
    opted_out: optOut.checked, enablement: enablement.value,
  };
  try {
    const r = await api("PATCH", `/api/retailers/${encodeURIComponent(id)}`, body);
    extras.value = r.extras.join(", ");
    say("#retailers-message", `Saved ${r.name || r.id}.`, "ok");
  } catch (err) {
    sayError("#retailers-message", err);
  }
}

// --- discovery ------------------------------------------------------------------------------

async function loadDiscovery() {
  const data = await api("GET", "/api/discovery");
  $("#discovery-last").replaceChildren(data.last
    ? `Last discovery: ${new Date(data.last.run_at).toLocaleString()}, data up to ${data.last.as_of}, ${data.last.found} new${data.last.baseline ? " (first run: everyone seen was enabled)" : ""}.`
    : "No discovery yet.");
  $("#pending-table tbody").replaceChildren(...data.pending.map((r) => el("tr", { dataset: { retailer: r.id } },
    el("td", {}, r.name || "–", el("br"), el("code", {}, r.id)), el("td", {}, r.onboarded || "–"),
    el("td", {}, r.primary_contact || "–"),
    el("td", {}, el("button", { type: "button", onclick: () => approve(r.id) }, "Approve")))));
}

$("#discovery-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const asOf = $("#discovery-as-of").value;
  say("#discovery-message", "Discovering…", "info");
  try {
    const result = await api("POST", "/api/discovery", asOf ? { as_of: asOf } : {});
    say("#discovery-message", `${result.new.length} newly onboarded retailer(s) pending.`, "ok");
    await Promise.all([loadDiscovery(), loadRetailers()]);
  } catch (err) {
    sayError("#discovery-message", err);
  }
});

async function approve(id) {
  try {
    const r = await api("POST", `/api/retailers/${encodeURIComponent(id)}/approve`);
    say("#discovery-message", `${r.name || r.id} approved.`, "ok");
    await Promise.all([loadDiscovery(), loadRetailers()]);
  } catch (err) {
    sayError("#discovery-message", err);
  }
}

// --- test sends -----------------------------------------------------------------------------

function jobText(job) {
  const progress = job.total ? ` (${job.done}/${job.total} targets)` : "";
  return `#${job.id} ${job.report}: ${job.status}${progress}`;
}

function jobResult(job) {
  const parts = [];
  if (job.error) parts.push(el("span", { class: "error" }, job.error));
  for (const d of job.deliveries) parts.push(el("span", {}, `${d.status} → ${d.recipient}`));
  if (job.run_link) parts.push(el("a", { href: job.run_link, target: "_blank", rel: "noopener" }, "run.json"));
  return parts;
}

function drawJob(job) {
  $("#test-send-status").replaceChildren(el("p", { class: `job ${job.status}`, dataset: { job: job.id, status: job.status } },
    jobText(job), " ", ...jobResult(job)));
}

$("#test-send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    report: $("#ts-report").value, target: $("#ts-target").value.trim() || null,
    address: $("#ts-address").value.trim(), deliver: $("#ts-deliver").value,
  };
  if ($("#ts-as-of").value) body.as_of = $("#ts-as-of").value;
  say("#test-send-message", "", "info");
  try {
    const job = await api("POST", "/api/test-sends", body);
    drawJob(job);
    watchJob(job.id);
  } catch (err) {
    sayError("#test-send-message", err);
  }
});

// A preview renders one target in the admin's warm worker and sends nothing.
$("#ts-preview").addEventListener("click", async () => {
  const body = { report: $("#ts-report").value, target: $("#ts-target").value.trim() || null };
  if ($("#ts-as-of").value) body.as_of = $("#ts-as-of").value;
  const button = $("#ts-preview");
  button.disabled = true;
  say("#test-send-message", "", "info");
  $("#preview-status").replaceChildren(el("p", { class: "job running" }, `Rendering ${body.report}…`));
  try {
    const preview = await api("POST", "/api/previews", body);
    const engine = preview.kernel.reused ? "warm engine" : "engine started";
    const parts = [`${preview.name}: ${preview.status} in ${preview.duration.toFixed(1)} s (${engine})`];
    if (preview.error) parts.push(" ", el("span", { class: "error" }, `cell ${preview.cell}: ${preview.error}`));
    for (const [name, href] of Object.entries(preview.links)) {
      parts.push(" ", el("a", { href, target: "_blank", rel: "noopener" }, name));
    }
    $("#preview-status").replaceChildren(el("p", {
      class: `job ${preview.status === "ok" ? "done" : "failed"}`, dataset: { status: preview.status },
    }, ...parts));
  } catch (err) {
    $("#preview-status").replaceChildren();
    sayError("#test-send-message", err);
  } finally {
    button.disabled = false;
  }
});

function watchJob(id) {
  clearInterval(state.polling);
  state.polling = setInterval(async () => {
    try {
      const job = await api("GET", `/api/test-sends/${id}`);
      drawJob(job);
      if (job.status === "done" || job.status === "failed") {
        clearInterval(state.polling);
        await Promise.all([loadTestSends(), loadRuns(), loadReports()]);
      }
    } catch (err) {
      clearInterval(state.polling);
      sayError("#test-send-message", err);
    }
  }, 1000);
}

async function loadTestSends() {
  const jobs = await api("GET", "/api/test-sends");
  $("#test-sends-table tbody").replaceChildren(...jobs.map((job) => el("tr", { dataset: { job: job.id } },
    el("td", {}, job.id), el("td", {}, job.report), el("td", {}, job.target || "every target"),
    el("td", {}, job.address), el("td", { class: job.status }, job.status), el("td", {}, ...jobResult(job)))));
}

// --- runs -----------------------------------------------------------------------------------

function links(target) {
  return Object.entries(target.links).map(([name, href]) =>
    el("a", { href, target: "_blank", rel: "noopener" }, name));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

async function loadRuns() {
  const runs = await api("GET", "/api/runs");
  $("#runs-table tbody").replaceChildren(...runs.map((run) => el("tr", { dataset: { run: `${run.report}/${run.as_of}` } },
    el("td", {}, run.report, run.test_to ? el("span", { class: "tag" }, "test") : null),
    el("td", {}, run.data_as_of), el("td", {}, run.started_at ? new Date(run.started_at).toLocaleString() : "–"),
    el("td", {}, `${run.ok}/${run.targets} ok${run.runs.length > 1 ? ` · ${run.runs.length} runs` : ""}`),
    el("td", { class: run.status }, run.status),
    el("td", {}, `${run.delivered}${run.delivery_failures ? `, ${run.delivery_failures} failed` : ""}${run.held_back ? `, ${run.held_back} held back` : ""}`),
    el("td", {}, el("button", { type: "button", onclick: () => showRun(run.report, run.as_of) }, "Details")))));
}

async function showRun(report, asOf) {
  try {
    const run = await api("GET", `/api/runs/${encodeURIComponent(report)}/${asOf}`);
    $("#run-detail").replaceChildren(
      el("h3", {}, `${run.report} · data to ${run.data_as_of}${run.test_to ? ` · test to ${run.test_to}` : ""}`),
      run.link ? el("p", {}, el("a", { href: run.link, target: "_blank", rel: "noopener" }, "run.json")) : "",
      // The day is every target's latest result; these are the runs that made it.
      el("ul", { class: "run-parts" }, run.runs.map((part) => el("li", {},
        `${when(part.started_at)}: ${part.targets ? part.targets.join(", ") : "every target"}: ${part.ok}/${part.ran} ok`))),
      el("table", { class: "run-targets" },
        el("thead", {}, el("tr", {}, ["Target", "Ran", "Status", "Failing cell", "Error", "Outputs"].map((h) => el("th", {}, h)))),
        el("tbody", {}, run.all_targets.map((t) => el("tr", { dataset: { target: t.id } },
          el("td", {}, t.name || t.id), el("td", {}, when(t.ran_at)), el("td", { class: t.status }, t.status),
          el("td", {}, t.cell === null ? "" : `cell ${t.cell}`), el("td", {}, t.error || ""),
          el("td", { class: "links" }, links(t)))))),
      run.skipped_targets.length ? el("h4", {}, "Not sent") : "",
      run.skipped_targets.length ? el("ul", { class: "held-back" }, run.skipped_targets.map((s) =>
        el("li", { dataset: { target: s.target } }, `${s.name || s.target}: ${s.reason}`))) : "");
  } catch (err) {
    sayError("#runs-message", err);
  }
}

$("#runs-refresh").addEventListener("click", loadRuns);

// --- health ---------------------------------------------------------------------------------

async function runChecks() {
  const button = $("#health-run");
  button.disabled = true;
  $("#health-status").textContent = "checking…";
  try {
    const report = await api("GET", "/api/doctor");
    $("#health-table tbody").replaceChildren(...report.checks.map((c) => el("tr", { dataset: { check: c.name } },
      el("td", {}, c.name), el("td", { class: c.status }, c.status), el("td", {}, c.why), el("td", {}, c.action))));
    const fails = report.checks.filter((c) => c.status === "fail").length;
    $("#health-status").textContent = fails ? `${fails} check(s) failed` : "no check failed";
  } catch (err) {
    $("#health-status").textContent = "";
    sayError("#health-message", err);
  } finally {
    button.disabled = false;
  }
}

$("#health-run").addEventListener("click", runChecks);

// --- start ----------------------------------------------------------------------------------

(async () => {
  try {
    const session = await api("GET", "/api/session");
    state.csrf = session.csrf_token;
    await showDashboard();
  } catch (err) {
    if (err.status === 401) showLogin();
    else say("#login-message", err.message);
  }
})();
