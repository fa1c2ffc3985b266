// The metrics explorer: search metrics, see and edit their properties, plot any metric with tag
// filters, group_by, summary function and resolution.

import { api, session } from "../api.js";
import { drawChart } from "../chart.js";
import { button, h, notice, replace, select, toast } from "../dom.js";
import { RANGES, windowOf } from "../time.js";

const PAGE = 100;
const MAX_PAGES = 5; // measurement pages (100 streams each) followed for one plot
const RESOLUTIONS = [["", "auto"], ["60", "1 min"], ["300", "5 min"], ["900", "15 min"], ["3600", "1 h"], ["86400", "1 day"]];
const SUMMARIES = [["", "default"], ["mean", "mean"], ["sum", "sum"], ["min", "min"], ["max", "max"], ["count", "count"], ["derivative", "derivative"]];
const GROUP_FUNCTIONS = [["mean", "mean"], ["sum", "sum"], ["min", "min"], ["max", "max"]];
const ATTRIBUTES = [
  ["display_units_short", "Units (short)", "text"], ["display_units_long", "Units (long)", "text"],
  ["display_min", "Display min", "number"], ["display_max", "Display max", "number"], ["color", "Colour (#RRGGBB)", "text"],
  ["summarize_function", "Summarize function", "text"], ["display_stacked", "Display stacked", "checkbox"],
  ["aggregate", "Aggregate (service-side)", "checkbox"],
];

export async function render(ctx) {
  const selected = ctx.args[0] ? decodeURIComponent(ctx.args[0]) : null;
  const search = h("input", { type: "search", id: "metric-search", placeholder: "Search metrics", "aria-label": "Search metrics",
    value: ctx.query.get("q") || "" });
  const list = h("ul", { class: "metric-list", id: "metric-list", "aria-label": "Metrics" });
  const more = button("More", () => load(false), { hidden: true, class: "small" });
  const detail = h("div", { class: "metric-detail" });
  replace(ctx.main, h("div", { class: "page-head" }, h("h1", {}, selected ? `Metric ${selected}` : "Metrics")),
    h("div", { class: "split" },
      h("div", {}, h("div", { class: "field" }, search), list, more),
      detail));

  let offset = 0;
  let timer = null;
  async function load(reset = true) {
    if (reset) { offset = 0; replace(list); }
    try {
      const page = await api("/v1/metrics", { params: { name: search.value.trim(), offset, length: PAGE }, signal: ctx.signal });
      const metrics = page.metrics || [];
      offset += metrics.length;
      if (reset && !metrics.length) {
        replace(list, h("li", {}, notice("info", search.value ? `No metric name contains “${search.value}”.`
          : "There are no metrics yet: they appear with their first measurement (POST /v1/measurements).")));
      }
      for (const m of metrics) {
        list.append(h("li", {}, h("a", { href: `#/metrics/${encodeURIComponent(m.name)}`,
          "aria-current": m.name === selected ? "true" : null }, m.display_name ? `${m.display_name} (${m.name})` : m.name)));
      }
      more.hidden = offset >= (page.query?.found ?? 0);
    } catch (err) {
      if (err.name !== "AbortError") replace(list, h("li", {}, notice("error", `Metrics could not be listed: ${err.message}`)));
    }
  }
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => load(true), 250); });
  ctx.onLeave(() => clearTimeout(timer));
  const listed = load(true);

  if (!selected) {
    replace(detail, notice("info", "Pick a metric to see its properties and plot it."));
    await listed;
    return;
  }
  let metric;
  try {
    metric = await api(`/v1/metrics/${encodeURIComponent(selected)}`, { signal: ctx.signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    replace(detail, notice("error", err.status === 404 ? `There is no metric named ${selected}.` : err.message));
    return;
  }
  showDetail(ctx, detail, metric);
  await listed;
}

function propsList(metric) {
  const rows = [["Name", metric.name], ["Display name", metric.display_name], ["Type", metric.type],
    ["Description", metric.description], ["Period", metric.period ? `${metric.period} s` : null]];
  if (metric.composite) rows.push(["Composite", metric.composite]);
  for (const [k, v] of Object.entries(metric.attributes || {})) rows.push([k, typeof v === "object" ? JSON.stringify(v) : String(v)]);
  return h("dl", { class: "props" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

function editForm(metric, onSaved) {
  const attrs = metric.attributes || {};
  const inputs = {
    display_name: h("input", { id: "m-display-name", value: metric.display_name || "", maxlength: 255 }),
    description: h("input", { id: "m-description", value: metric.description || "", maxlength: 255 }),
    period: h("input", { id: "m-period", type: "number", min: 1, step: 1, value: metric.period ?? "" }),
  };
  const attrInputs = ATTRIBUTES.map(([key, label, type]) => [key, label, type, h("input", {
    id: `m-attr-${key}`, type: type === "text" ? null : type, step: type === "number" ? "any" : null,
    value: type === "checkbox" ? null : (attrs[key] ?? ""), checked: type === "checkbox" ? Boolean(attrs[key]) : null })]);
  const error = h("div", { "aria-live": "polite" });
  return h("form", { class: "panel", onsubmit: async (e) => {
    e.preventDefault();
    const body = { attributes: {} };
    for (const [key, input] of Object.entries(inputs)) {
      const v = input.value.trim();
      if (v !== "") body[key] = key === "period" ? Number(v) : v;
    }
    for (const [key, , type, input] of attrInputs) {
      if (type === "checkbox") { if (input.checked || key in attrs) body.attributes[key] = input.checked; continue; }
      const v = input.value.trim();
      if (v !== "") body.attributes[key] = type === "number" ? Number(v) : v;
    }
    try {
      await api(`/v1/metrics/${encodeURIComponent(metric.name)}`, { method: "PUT", body });
      toast(`Metric ${metric.name} saved`);
      replace(error);
      onSaved(await api(`/v1/metrics/${encodeURIComponent(metric.name)}`));
    } catch (err) {
      replace(error, notice("error", `Not saved: ${err.message}`));
    }
  } },
  h("h2", {}, "Edit properties"),
  h("div", { class: "row" },
    h("div", { class: "field" }, h("label", { for: inputs.display_name.id }, "Display name"), inputs.display_name),
    h("div", { class: "field" }, h("label", { for: inputs.period.id }, "Period (s)"), inputs.period)),
  h("div", { class: "field" }, h("label", { for: inputs.description.id }, "Description"), inputs.description),
  h("div", { class: "row" }, attrInputs.map(([key, label, type, input]) => type === "checkbox"
    ? h("label", { class: "inline" }, input, label)
    : h("div", { class: "field" }, h("label", { for: input.id }, label), input))),
  error,
  h("button", { type: "submit", class: "primary" }, "Save properties"));
}

function showDetail(ctx, detail, metric) {
  const props = h("section", { class: "panel", "aria-labelledby": "props-title" }, h("h2", { id: "props-title" }, "Properties"), propsList(metric));
  const refreshProps = (m) => { metric = m; replace(props, h("h2", { id: "props-title" }, "Properties"), propsList(m)); };

  // Plot controls.
  const range = select(RANGES.map(([k, , l]) => [k, l]), ctx.query.get("range") || "1h", { id: "plot-range" });
  const resolution = select(RESOLUTIONS, "", { id: "plot-resolution" });
  const summary = select(SUMMARIES, "", { id: "plot-summary" });
  const groupBy = h("input", { id: "plot-group-by", placeholder: "tag names, comma separated, or *" });
  const groupFn = select(GROUP_FUNCTIONS, "mean", { id: "plot-group-fn" });
  const filters = h("div", {});
  const addFilter = (name = "", value = "") => {
    const row = h("div", { class: "tag-row filter-row" },
      h("input", { class: "filter-name", value: name, "aria-label": "Tag name", placeholder: "tag" }), "=",
      h("input", { class: "filter-value", value, "aria-label": "Tag value pattern", placeholder: "value (* wildcards, ! negates)" }),
      button("Remove", () => row.remove(), { class: "small" }));
    filters.append(row);
  };
  const plotBox = h("div", { class: "chart-body", id: "metric-plot" });
  const plotStatus = h("p", { class: "muted", "aria-live": "polite" });
  let drawn = null;
  ctx.onLeave(() => drawn?.destroy());

  async function plot(e) {
    e?.preventDefault();
    const win = windowOf({ range: range.value });
    const params = { start_time: win.start, end_time: win.end, resolution: resolution.value || null,
      summary_function: summary.value || null };
    if (!params.resolution) params.resolution = Math.max(60, Math.ceil((win.end - win.start) / 720 / 60) * 60);
    for (const row of filters.children) {
      const k = row.querySelector(".filter-name").value.trim();
      const v = row.querySelector(".filter-value").value.trim();
      if (!k) continue;
      params[`tags[${k}]`] = [...(params[`tags[${k}]`] || []), v || "*"];
    }
    if (groupBy.value.trim()) {
      params.group_by = groupBy.value.trim();
      params.group_by_function = groupFn.value;
    }
    plotStatus.textContent = "Querying…";
    const series = [];
    let query = params;
    let truncated = false;
    try {
      for (let page = 0; ; page++) {
        const body = await api(`/v1/measurements/${encodeURIComponent(metric.name)}`, { params: query, signal: ctx.signal });
        series.push(...(body.series || []));
        const next = (body.links || []).find((l) => l.rel === "next");
        if (!next) break;
        if (page + 1 >= MAX_PAGES) { truncated = true; break; }
        query = Object.fromEntries(new URL(next.href, location.origin).searchParams);
      }
    } catch (err) {
      if (err.name === "AbortError") return;
      drawn?.destroy();
      drawn = null;
      replace(plotBox, notice("error", err.message));
      plotStatus.textContent = "";
      return;
    }
    const a = metric.attributes || {};
    const chart = { type: a.display_stacked ? "stacked" : "line",
      streams: [{ id: 1, units_short: a.display_units_short, units_long: a.display_units_long, color: a.color,
        min: a.display_min, max: a.display_max }] };
    const data = { series: series.map((s) => ({ stream_id: 1, name: metric.display_name || metric.name, tags: s.tags, measurements: s.measurements })) };
    drawn?.destroy();
    drawn = drawChart(plotBox, chart, data, { start: win.start, end: win.end, height: 280 });
    plotStatus.textContent = `${series.length} stream(s)${truncated ? ` — only the first ${MAX_PAGES * 100} are shown; filter or group to see the rest` : ""}`;
  }

  replace(detail,
    h("form", { class: "panel", onsubmit: plot, "aria-labelledby": "plot-title" },
      h("h2", { id: "plot-title" }, "Plot"),
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: range.id }, "Time range"), range),
        h("div", { class: "field" }, h("label", { for: resolution.id }, "Resolution"), resolution),
        h("div", { class: "field" }, h("label", { for: summary.id }, "Summary function"), summary)),
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: groupBy.id }, "Group by"), groupBy),
        h("div", { class: "field" }, h("label", { for: groupFn.id }, "Group function"), groupFn)),
      h("div", { class: "field" }, h("strong", {}, "Tag filters"), filters,
        h("div", {}, button("Add filter", () => addFilter(), { class: "small" }))),
      h("button", { type: "submit", class: "primary", id: "plot-button" }, "Plot"), plotStatus,
      plotBox),
    props,
    session.canEdit && metric.type !== "composite" ? editForm(metric, refreshProps) : null);
  plot();
}
