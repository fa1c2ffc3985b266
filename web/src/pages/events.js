// Platform events, from StackTach's stacky API: a live watch feed, an instance's lifecycle with
// its timings, the summary of operation times, KPIs, reports, and any notification in full.

import { api, session } from "../api.js";
import { button, h, notice, replace, select, table, toast } from "../dom.js";
import { fromLocalInput, toLocalInput } from "../time.js";

const TABS = [["watch", "Watch"], ["instance", "Instance"], ["summary", "Summary"], ["kpi", "KPI"], ["reports", "Reports"]];
const SERVICES = [["nova", "nova"], ["glance", "glance"], ["generic", "generic"]];
const WATCH_POLL_MS = 2000;
const WATCH_KEEP = 500; // rows kept in the feed
const WATCH_BACK = 3600; // the feed starts with the last hour
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Cells that name an instance or a notification link to their pages.
function stackyCell(headers, service, linkIds = true) {
  return (value, i, j) => {
    const head = headers[j];
    if ((head === "UUID" || head === "Instance") && typeof value === "string" && UUID.test(value)) {
      return h("a", { href: `#/events/instance/${value}` }, value);
    }
    if (linkIds && head === "#" && Number.isInteger(value)) {
      return h("a", { href: `#/events/show/${value}${service && service !== "nova" ? `?service=${service}` : ""}`,
        "aria-label": `Notification ${value}` }, String(value));
    }
    return value === null ? "null" : value === "" ? "" : String(value);
  };
}

function stackyTable(rows, { caption, empty, service, linkIds } = {}) {
  const [headers = [], ...data] = rows || [];
  if (!data.length) return notice("info", empty || "Nothing to show.");
  return table(headers, data, { caption, cell: stackyCell(headers, service, linkIds),
    rowClass: (row) => (row[1] === "E" ? "error-row" : null) });
}

export async function render(ctx) {
  const tab = ctx.args[0] || "watch";
  const rest = ctx.args[1] ? decodeURIComponent(ctx.args[1]) : null;
  const current = tab === "show" ? null : tab;
  const body = h("div", {});
  replace(ctx.main, h("div", { class: "page-head" }, h("h1", {}, "Events")),
    h("nav", { class: "tabs", "aria-label": "Event views" }, TABS.map(([key, label]) =>
      h("a", { href: `#/events/${key}`, "aria-current": key === current ? "page" : null }, label))),
    body);
  const views = { watch, instance, summary, kpi, reports, show };
  if (!views[tab]) { replace(body, notice("info", "There is no such event view.")); return; }
  await views[tab](ctx, body, rest);
}

async function watch(ctx, body) {
  const deployments = await api("/stacky/deployments", { signal: ctx.signal });
  const depSelect = select([["0", "All deployments"], ...deployments.slice(1).map(([id, name]) => [String(id), name])],
    ctx.query.get("deployment") || "0", { id: "watch-deployment", "aria-label": "Deployment" });
  const service = select(SERVICES, ctx.query.get("service") || "nova", { id: "watch-service", "aria-label": "Service" });
  const eventName = h("input", { id: "watch-event", placeholder: "event name (optional)", "aria-label": "Event name",
    value: ctx.query.get("event") || "" });
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const feed = h("div", { id: "watch-feed" });
  let rows = [];
  let since = Date.now() / 1000 - WATCH_BACK;
  let polling = false;
  const headers = ["#", "?", "Date", "Time", "Deployment", "Event", "UUID"];
  const restart = () => {
    ctx.setQuery({ deployment: depSelect.value, service: service.value, event: eventName.value.trim() });
    rows = [];
    since = Date.now() / 1000 - WATCH_BACK;
    poll();
  };
  [depSelect, service].forEach((c) => c.addEventListener("change", restart));
  eventName.addEventListener("change", restart);

  const show = () => replace(feed, rows.length
    ? table(headers, rows, { cell: stackyCell(headers, service.value), rowClass: (row) => (row[1] === "E" ? "error-row" : null) })
    : notice("info", "No notifications in the last hour yet; new ones appear here as they arrive."));

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const [, fresh, last] = await api(`/stacky/watch/${depSelect.value}`, {
        params: { service: service.value, since: since.toFixed(6), event_name: eventName.value.trim() || null }, signal: ctx.signal });
      since = Number(last);
      if (fresh.length) {
        rows = [...fresh.slice().reverse(), ...rows].slice(0, WATCH_KEEP);
      }
      show();
      status.textContent = `Watching · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (err.name !== "AbortError") status.textContent = `Watch failed: ${err.message} Retrying…`;
    } finally {
      polling = false;
    }
  }
  replace(body,
    h("div", { class: "toolbar" }, depSelect, service, eventName, status),
    h("p", { class: "muted" }, "Newest first. Error notifications are marked E and highlighted."),
    feed,
    h("h2", {}, "Deployments"),
    stackyTable(deployments, { linkIds: false, empty: "No deployment has sent notifications yet (POST /v1/notifications?deployment=NAME or --amqp-deployment)." }));
  ctx.every(WATCH_POLL_MS, () => { if (!document.hidden) poll(); });
  await poll();
}

async function instance(ctx, body, uuid) {
  const input = h("input", { id: "instance-uuid", value: uuid || "", placeholder: "instance UUID", size: 38, spellcheck: "false" });
  const service = select(SERVICES, ctx.query.get("service") || "nova", { id: "instance-service", "aria-label": "Service" });
  const out = h("div", {});
  replace(body,
    h("form", { class: "inline-form", onsubmit: (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v) ctx.navigate(`events/instance/${encodeURIComponent(v)}`, service.value !== "nova" ? { service: service.value } : null);
    } }, h("label", { for: "instance-uuid" }, "Instance"), input, service, h("button", { type: "submit", class: "primary" }, "Show")),
    out);
  if (!uuid) {
    replace(out, notice("info", "Enter an instance's UUID, or pick one in the watch feed."));
    return;
  }
  const params = { uuid, service: service.value };
  try {
    const [events, timings] = await Promise.all([
      api("/stacky/uuid", { params, signal: ctx.signal }),
      service.value === "nova" ? api("/stacky/timings/uuid", { params: { uuid }, signal: ctx.signal }) : Promise.resolve(null),
    ]);
    const last = events.length > 1 ? events[events.length - 1] : null;
    const stateAt = events[0] ? events[0].indexOf("State") : -1;
    replace(out,
      h("h2", { id: "lifecycle-title" }, `Lifecycle of ${uuid}`),
      last && stateAt >= 0 ? h("p", {}, "Latest state: ", h("strong", { id: "instance-state" }, String(last[stateAt])),
        ` (${last[events[0].indexOf("Event")]} at ${last[events[0].indexOf("When")]})`) : null,
      timings ? [h("h3", {}, "Timings"), stackyTable(timings, { empty: "No .start/.end pairs for this instance yet." })] : null,
      h("h3", {}, "Notifications"),
      stackyTable(events, { empty: "No notifications for this instance.", service: service.value }));
  } catch (err) {
    if (err.name === "AbortError") throw err;
    replace(out, notice("error", err.message));
  }
}

async function summary(ctx, body) {
  const rows = await api("/stacky/summary", { signal: ctx.signal });
  replace(body, h("h2", {}, "Operation times"),
    stackyTable(rows, { empty: "No complete .start/.end timings yet." }));
}

async function kpi(ctx, body) {
  const rows = await api("/stacky/kpi", { signal: ctx.signal });
  replace(body, h("h2", {}, "Tracked requests of the last day"),
    stackyTable(rows, { empty: "No tracked request completed in the last day." }));
}

async function reports(ctx, body, id) {
  if (id) {
    const report = await api(`/stacky/report/${encodeURIComponent(id)}`, { signal: ctx.signal });
    const [meta = {}, headers = [], ...rows] = report;
    replace(body, h("p", {}, h("a", { href: "#/events/reports" }, "All reports")),
      h("h2", {}, `Report ${id}`),
      h("dl", { class: "props" }, Object.entries(meta).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null ? "—" : String(v))])),
      rows.length ? table(headers, rows) : notice("info", "This report has no rows."));
    return;
  }
  const list = await api("/stacky/reports", { signal: ctx.signal });
  const [headers = [], ...rows] = list;
  const form = session.canEdit ? reportForm(ctx) : null;
  replace(body, h("h2", {}, "Reports of the last day"),
    rows.length ? table(headers, rows, { cell: (v, i, j) => (j === 0 ? h("a", { href: `#/events/reports/${v}` }, String(v)) : String(v ?? "")) })
      : notice("info", "No report was made in the last day. Reports are made every hour; an admin can make one now below."),
    form);
}

function reportForm(ctx) {
  const now = Date.now() / 1000;
  const start = h("input", { type: "datetime-local", id: "report-start", value: toLocalInput(now - 3600) });
  const end = h("input", { type: "datetime-local", id: "report-end", value: toLocalInput(now) });
  const region = h("input", { id: "report-region", placeholder: "all" });
  const status = h("div", { "aria-live": "polite" });
  return h("form", { class: "panel", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const made = await api("/v1/events/reports", { method: "POST", params: { start: fromLocalInput(start.value),
        end: fromLocalInput(end.value), region: region.value.trim() || null } });
      toast(`Report ${made.id} made`);
      ctx.navigate(`events/reports/${made.id}`);
    } catch (err) {
      replace(status, notice("error", err.message));
    }
  } }, h("h3", {}, "Make a report now"),
  h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: start.id }, "From"), start),
    h("div", { class: "field" }, h("label", { for: end.id }, "To"), end),
    h("div", { class: "field" }, h("label", { for: region.id }, "Region"), region)),
  status, h("button", { type: "submit", class: "primary" }, "Make report"));
}

async function show(ctx, body, id) {
  const service = ctx.query.get("service") || "nova";
  try {
    const [pairs, json, uuid] = await api(`/stacky/show/${encodeURIComponent(id)}`, { params: { service }, signal: ctx.signal });
    const [headers, ...rows] = pairs;
    replace(body, h("h2", {}, `Notification ${id}`),
      uuid ? h("p", {}, "Instance ", h("a", { href: `#/events/instance/${uuid}` }, uuid)) : null,
      table(headers, rows),
      h("h3", {}, "As received"),
      h("pre", { class: "json", tabindex: "0" }, json));
  } catch (err) {
    if (err.name === "AbortError") throw err;
    replace(body, notice("error", err.message), button("Back", () => history.back()));
  }
}
