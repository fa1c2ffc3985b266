// Alerts: every alert with its state (firing / ok), the services it notifies, and for one alert its
// violations, deliveries and history. Refreshes itself.

import { api, listAll, session } from "../api.js";
import { button, h, notice, replace, select, table, toast } from "../dom.js";
import { fmtAgo, fmtTime } from "../time.js";

const REFRESH_MS = 15000;

export function describeCondition(c) {
  const tags = (c.tags || []).map((t) => `${t.name}=${(t.values || []).join("|")}${t.grouped ? " (grouped)" : ""}`).join(", ");
  const where = tags ? ` where ${tags}` : "";
  if (c.type === "absent") return `${c.metric_name} absent for ${c.duration} s${where}`;
  const op = c.type === "above" ? ">" : "<";
  const fn = c.summary_function && c.summary_function !== "average" ? `${c.summary_function} of ` : "";
  const dur = c.duration ? ` for ${c.duration} s` : "";
  return `${fn}${c.metric_name} ${op} ${c.threshold}${dur}${where}`;
}

function stateOf(alert, firing) {
  if (!alert.active) return "inactive";
  return firing.has(alert.id) ? "firing" : "ok";
}

function stateBadge(state) {
  return h("span", { class: ["state", state], "data-state": state }, state === "firing" ? "● firing" : state);
}

export async function render(ctx) {
  if (ctx.args[0]) return detail(ctx, Number(ctx.args[0]));
  const show = select([["all", "All alerts"], ["firing", "Firing only"]], ctx.query.get("show") || "all", { id: "alert-show", "aria-label": "Show" });
  const out = h("div", { id: "alert-list", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading alerts…"));
  const updated = h("span", { class: "muted" });
  replace(ctx.main, h("div", { class: "page-head" }, h("h1", {}, "Alerts"), show, updated), out);
  let alerts = [];
  let status = { firing: [], cleared: [] };
  const draw = () => {
    const firing = new Map(status.firing.map((f) => [f.id, f.triggered_at]));
    const cleared = new Map(status.cleared.map((c) => [c.id, c.cleared_at]));
    const shown = alerts.filter((a) => show.value === "all" || firing.has(a.id))
      .sort((a, b) => (firing.has(b.id) - firing.has(a.id)) || a.name.localeCompare(b.name));
    if (!alerts.length) {
      replace(out, notice("info", "There are no alerts. They are created through the API (POST /v1/alerts)",
        session.canEdit ? "." : " by an admin."));
      return;
    }
    if (!shown.length) { replace(out, notice("info", "No alert is firing.")); return; }
    replace(out, table(["State", "Alert", "Conditions", "Notifies", "Since"], shown.map((a) => [a, a, a, a, a]), {
      rowClass: (row) => (firing.has(row[0].id) ? "error-row" : null),
      cell: (a, i, j) => {
        if (j === 0) return stateBadge(stateOf(a, firing));
        if (j === 1) return h("span", {}, h("a", { href: `#/alerts/${a.id}` }, a.name), a.description ? h("div", { class: "muted" }, a.description) : null);
        if (j === 2) return h("ul", { class: "plain" }, (a.conditions || []).map((c) => h("li", {}, describeCondition(c))));
        if (j === 3) return (a.services || []).map((s) => `${s.title} (${s.type})`).join(", ") || "nobody";
        const since = firing.get(a.id) || cleared.get(a.id);
        return since ? `${firing.has(a.id) ? "triggered" : "cleared"} ${fmtAgo(since)}` : "—";
      },
    }));
  };
  show.addEventListener("change", () => { ctx.setQuery(show.value === "all" ? {} : { show: show.value }); draw(); });
  const load = async () => {
    try {
      [alerts, status] = await Promise.all([listAll("/v1/alerts", "alerts", {}, 1000), api("/v1/alerts/status", { signal: ctx.signal })]);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      draw();
    } catch (err) {
      if (err.name !== "AbortError") replace(out, notice("error", `Alerts could not be loaded: ${err.message}`));
    }
  };
  ctx.every(REFRESH_MS, () => { if (!document.hidden) load(); });
  await load();
}

async function detail(ctx, id) {
  const out = h("div", {});
  replace(ctx.main, h("p", {}, h("a", { href: "#/alerts" }, "All alerts")), out);
  const load = async () => {
    let alert;
    let st;
    try {
      [alert, st] = await Promise.all([api(`/v1/alerts/${id}`, { signal: ctx.signal }), api(`/v1/alerts/${id}/status`, { signal: ctx.signal })]);
    } catch (err) {
      if (err.name === "AbortError") return;
      replace(out, h("h1", {}, `Alert ${id}`), notice("error", err.status === 404 ? `There is no alert ${id}.` : err.message));
      return;
    }
    const state = !alert.active ? "inactive" : st.status === "triggered" ? "firing" : "ok";
    const services = new Map((alert.services || []).map((s) => [String(s.id), s]));
    const deliveries = Object.entries(st.notifications?.services || {});
    const focused = out.contains(document.activeElement) ? document.activeElement.id : null;
    replace(out,
      h("div", { class: "page-head" }, h("h1", {}, alert.name), stateBadge(state),
        session.canEdit && state === "firing" ? button("Clear now", async () => {
          try {
            await api(`/v1/alerts/${id}/clear`, { method: "POST" });
            toast("Alert cleared");
            load();
          } catch (err) { toast(err.message, "error"); }
        }, { id: "alert-clear" }) : null),
      alert.description ? h("p", {}, alert.description) : null,
      h("dl", { class: "props" },
        h("dt", {}, "State"), h("dd", { id: "alert-state" }, state === "firing" ? `firing since ${fmtTime(st.triggered_at)}`
          : st.cleared_at ? `ok, cleared ${fmtAgo(st.cleared_at)} (${st.clear || "auto"})` : state),
        h("dt", {}, "Rearm"), h("dd", {}, `${alert.rearm_seconds} s${alert.rearm_per_signal ? " per signal" : ""}`),
        alert.attributes?.runbook_url ? [h("dt", {}, "Runbook"), h("dd", {}, h("a", { href: alert.attributes.runbook_url, rel: "noreferrer" }, alert.attributes.runbook_url))] : null,
        st.ignored_streams ? [h("dt", {}, "Ignored streams"), h("dd", {}, String(st.ignored_streams))] : null),
      h("h2", {}, "Conditions"),
      h("ul", {}, (alert.conditions || []).map((c) => h("li", {}, describeCondition(c)))),
      (st.violations || []).length ? [h("h2", {}, "Violations"),
        table(["Condition", "Metric", "Signal", "Value", "Recorded"], st.violations.map((v) =>
          [v.condition, v.metric, v.key, v.value ?? "absent", fmtTime(v.recorded_at)]))] : null,
      h("h2", {}, "Notifies"),
      (alert.services || []).length
        ? table(["Service", "Type", "Delivered", "Failed", "Last error"], (alert.services || []).map((s) => {
          const d = st.notifications?.services?.[String(s.id)] || {};
          return [s.title, s.type, d.delivered ?? 0, d.failed ?? 0, d.last_error ? `${d.last_error} (${fmtAgo(d.last_error_at)})` : "—"];
        }))
        : notice("info", "This alert notifies nobody; its state is still tracked here."),
      deliveries.filter(([sid]) => !services.has(sid)).length ? h("p", { class: "muted" }, "Some deliveries went to services no longer linked.") : null,
      h("h2", {}, "History"),
      (st.history || []).length
        ? table(["When", "Event", "Details"], st.history.map((e) => [fmtTime(e.at), e.event,
          [e.violations !== undefined ? `${e.violations} violation(s)` : null, e.service !== undefined ? `service ${services.get(String(e.service))?.title || e.service}` : null,
            e.notification, e.error, e.clear].filter(Boolean).join(" · ")]))
        : notice("info", "Nothing has happened to this alert yet."));
    if (focused) document.getElementById(focused)?.focus();
  };
  ctx.every(REFRESH_MS, () => { if (!document.hidden) load(); });
  await load();
}
