// The chart editor: chart properties, thresholds, metric streams (metric search, tags with the
// values that exist, group and summary functions) or composite streams, a preview evaluated by the
// server (POST /v1/charts/preview) before saving, and the server's errors next to their fields.

import { api, session } from "../api.js";
import { drawChart, PALETTE } from "../chart.js";
import { button, h, newId, notice, replace, select, toast } from "../dom.js";
import { RANGES, windowOf } from "../time.js";

const GROUP_FUNCTIONS = [["average", "average"], ["sum", "sum"], ["min", "min"], ["max", "max"], ["breakout", "breakout (one line per series)"]];
const SUMMARY_FUNCTIONS = [["", "default (average)"], ["average", "average"], ["sum", "sum"], ["min", "min"], ["max", "max"], ["count", "count"]];
const TYPES = [["line", "Line"], ["stacked", "Stacked"], ["bignumber", "Big number"]];
const TAG_SAMPLE_WINDOW = 86400;

// Fields that show the server's errors: error path (`streams.0.composite`) → {input, box}.
class ErrorSlots {
  constructor() { this.slots = new Map(); }
  add(path, input) {
    const box = h("div", { class: "field-error", id: newId("err"), "aria-live": "polite" });
    this.slots.set(path, { input, box });
    if (input) input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), box.id].filter(Boolean).join(" "));
    return box;
  }
  clear() {
    for (const { input, box } of this.slots.values()) {
      box.textContent = "";
      input?.removeAttribute("aria-invalid");
    }
  }
  // Shows each reason at its field (or the nearest parent path that has one); returns the rest.
  show(params) {
    const rest = [];
    let first = null;
    for (const [path, reasons] of Object.entries(params || {})) {
      let key = path;
      while (key && !this.slots.has(key)) key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
      const text = [].concat(reasons).join("; ");
      if (!key) { rest.push(`${path} ${text}`); continue; }
      const slot = this.slots.get(key);
      slot.box.textContent = key === path ? text : `${path.slice(key.length + 1)} ${text}`;
      slot.input?.setAttribute("aria-invalid", "true");
      first = first || slot.input;
    }
    first?.focus();
    return rest;
  }
}

function numberOrNull(input) {
  const v = input.value.trim();
  return v === "" ? null : Number(v);
}

// Tag names and their values among a metric's series of the last day (one page of series).
async function tagSample(metric) {
  const body = await api(`/v1/measurements/${encodeURIComponent(metric)}`,
    { params: { duration: TAG_SAMPLE_WINDOW, resolution: TAG_SAMPLE_WINDOW } });
  const tags = new Map();
  for (const s of body.series || []) {
    for (const [k, v] of Object.entries(s.tags || {})) {
      if (!tags.has(k)) tags.set(k, new Set());
      tags.get(k).add(v);
    }
  }
  return tags;
}

export async function render(ctx) {
  const spaceId = Number(ctx.args[0]);
  const chartId = ctx.args[1] === "new" ? null : Number(ctx.args[1]);
  if (!session.canEdit) {
    replace(ctx.main, h("h1", {}, "Edit chart"),
      notice("info", "Only admin tokens can change charts. ", h("a", { href: `#/spaces/${spaceId}` }, "Back to the space.")));
    return;
  }
  const [space, chart] = await Promise.all([
    api(`/v1/spaces/${spaceId}`, { signal: ctx.signal }),
    chartId ? api(`/v1/spaces/${spaceId}/charts/${chartId}`, { signal: ctx.signal })
      : Promise.resolve({ name: "", type: "line", streams: [{ tags: [] }], thresholds: null }),
  ]);
  const errors = new ErrorSlots();
  const general = h("div", { "aria-live": "assertive" });

  // Chart properties.
  const name = h("input", { id: "chart-name", value: chart.name || "", required: true, maxlength: 255 });
  const type = select(TYPES, chart.type || "line", { id: "chart-type" });
  const label = h("input", { id: "chart-label", value: chart.label || "", maxlength: 255 });
  const min = h("input", { id: "chart-min", type: "number", step: "any", value: chart.min ?? "" });
  const max = h("input", { id: "chart-max", type: "number", step: "any", value: chart.max ?? "" });
  const logY = h("input", { type: "checkbox", id: "chart-log", checked: chart.use_log_yaxis });
  const lastValue = h("input", { type: "checkbox", id: "chart-last", checked: chart.use_last_value !== false });
  const fieldWith = (text, input, path, hint) => h("div", { class: "field" },
    h("label", { for: input.id }, text), input, hint ? h("small", { class: "hint" }, hint) : null, errors.add(path, input));

  const thresholdList = h("div", {});
  const thresholds = [];
  function addThreshold(t = { operator: ">", value: "", type: "red" }) {
    const i = thresholds.length;
    const row = {
      operator: select([">", "<", "="], t.operator, { "aria-label": `Threshold ${i + 1} operator` }),
      value: h("input", { type: "number", step: "any", value: t.value, "aria-label": `Threshold ${i + 1} value` }),
      type: select([["red", "red"], ["yellow", "yellow"]], t.type, { "aria-label": `Threshold ${i + 1} colour` }),
    };
    row.el = h("div", { class: "tag-row" }, "value ", row.operator, row.value, row.type,
      button("Remove", () => { thresholds.splice(thresholds.indexOf(row), 1); rebuildThresholds(); }, { class: "small" }),
      errors.add(`thresholds.${i}`, row.value));
    thresholds.push(row);
    thresholdList.append(row.el);
  }
  // Removing a row renumbers the rest, so that the server's error paths (`thresholds.2.value`) name the rows shown.
  function rebuildThresholds() {
    const current = body().thresholds || [];
    thresholds.length = 0;
    replace(thresholdList);
    current.forEach((t) => addThreshold({ ...t, value: t.value ?? "" }));
  }
  (chart.thresholds || []).forEach(addThreshold);

  // Streams.
  const streamList = h("div", {});
  const streams = [];
  function addStream(spec = { tags: [] }) {
    const i = streams.length;
    const p = `streams.${i}`;
    const s = { id: spec.id };
    const kindName = newId("kind");
    const isComposite = spec.composite !== undefined;
    s.kindMetric = h("input", { type: "radio", name: kindName, value: "metric", checked: !isComposite });
    s.kindComposite = h("input", { type: "radio", name: kindName, value: "composite", checked: isComposite });
    const listId = newId("metrics");
    s.metric = h("input", { id: newId("metric"), list: listId, value: spec.metric || "", autocomplete: "off",
      placeholder: "Type to search metrics", class: "metric-input" });
    const metricOptions = h("datalist", { id: listId });
    s.composite = h("textarea", { id: newId("composite"), spellcheck: "false", class: "mono" }, spec.composite || "");
    s.group = select(GROUP_FUNCTIONS, spec.group_function || "average", { id: newId("group") });
    s.summary = select(SUMMARY_FUNCTIONS, spec.summary_function || "", { id: newId("summary") });
    s.name = h("input", { id: newId("sname"), value: spec.name || "", maxlength: 255 });
    s.useColor = h("input", { type: "checkbox", id: newId("usecolor"), checked: Boolean(spec.color), "aria-label": "Use a colour" });
    s.color = h("input", { type: "color", id: newId("color"), value: (spec.color || PALETTE[i % PALETTE.length]).toLowerCase(),
      oninput: () => { s.useColor.checked = true; } });
    s.unitsShort = h("input", { id: newId("us"), value: spec.units_short || "", maxlength: 255 });
    s.unitsLong = h("input", { id: newId("ul"), value: spec.units_long || "", maxlength: 255 });
    s.min = h("input", { id: newId("smin"), type: "number", step: "any", value: spec.min ?? "" });
    s.max = h("input", { id: newId("smax"), type: "number", step: "any", value: spec.max ?? "" });
    s.transform = h("input", { id: newId("tf"), value: spec.transform_function || "", class: "mono", placeholder: "e.g. x * 100" });
    s.period = h("input", { id: newId("period"), type: "number", min: 1, step: 1, value: spec.period ?? "" });
    s.tagRows = [];
    s.tagBox = h("div", {});
    s.known = new Map(); // tag name → Set of values seen
    const tagNames = h("datalist", { id: newId("tagnames") });
    const tagHint = h("small", { class: "hint", "aria-live": "polite" });

    const refreshTagNames = () => replace(tagNames, [...s.known.keys()].sort().map((k) => h("option", { value: k })));
    s.addTag = (tag = { name: "", values: [] }) => {
      const j = s.tagRows.length;
      const row = {
        name: h("input", { value: tag.name || "", list: tagNames.id, "aria-label": `Tag ${j + 1} name`, placeholder: "tag (e.g. host, @host)" }),
        values: h("input", { value: (tag.values || []).join(", "), "aria-label": `Tag ${j + 1} values`, placeholder: "values, comma separated; * wildcards" }),
        grouped: h("input", { type: "checkbox", checked: tag.grouped, "aria-label": `Tag ${j + 1} grouped` }),
        dynamic: h("input", { type: "checkbox", checked: tag.dynamic, "aria-label": `Tag ${j + 1} dynamic` }),
      };
      const chips = h("div", { class: "actions" });
      const showChips = () => {
        const values = s.known.get(row.name.value.replace(/^@/, "").toLowerCase());
        replace(chips, values ? [...values].sort().slice(0, 20).map((v) => button(v, () => {
          const current = row.values.value.split(",").map((x) => x.trim()).filter(Boolean);
          if (!current.includes(v)) row.values.value = [...current, v].join(", ");
        }, { class: "small", "aria-label": `Add value ${v}` })) : null);
      };
      row.name.addEventListener("input", showChips);
      row.showChips = showChips;
      row.el = h("div", { class: "tag-block" },
        h("div", { class: "tag-row" }, row.name, row.values,
          h("label", { class: "inline" }, row.grouped, "grouped"),
          h("label", { class: "inline" }, row.dynamic, "dynamic"),
          button("Remove", () => { s.tagRows.splice(s.tagRows.indexOf(row), 1); rebuildStreams(); }, { class: "small" })),
        chips, errors.add(`${p}.tags.${j}`, row.values));
      s.tagRows.push(row);
      s.tagBox.append(row.el);
      showChips();
    };
    (spec.tags || []).forEach((t) => s.addTag(t));

    let searchTimer = null;
    s.metric.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(async () => {
        try {
          const found = await api("/v1/metrics", { params: { name: s.metric.value.trim(), length: 50 } });
          replace(metricOptions, (found.metrics || []).map((m) => h("option", { value: m.name }, m.display_name || "")));
        } catch { /* suggestions only */ }
      }, 200);
    });
    const loadTags = async () => {
      const metric = s.metric.value.trim();
      if (!metric) return;
      try {
        s.known = await tagSample(metric);
        refreshTagNames();
        s.tagRows.forEach((r) => r.showChips());
        tagHint.textContent = s.known.size ? `Tags seen on ${metric} in the last day: ${[...s.known.keys()].sort().join(", ")}`
          : `${metric} has no series in the last day.`;
      } catch (err) {
        tagHint.textContent = err.status === 404 ? `There is no metric ${metric} yet.` : `Tags could not be loaded: ${err.message}`;
      }
    };
    s.metric.addEventListener("change", loadTags);

    const metricPart = h("div", { class: "metric-part" },
      h("div", { class: "field" }, h("label", { for: s.metric.id }, "Metric"), s.metric, metricOptions, errors.add(`${p}.metric`, s.metric)),
      h("div", { class: "field" }, h("span", { class: "label" }, h("strong", {}, "Tags")), tagNames, s.tagBox,
        h("div", {}, button("Add tag", () => s.addTag(), { class: "small" })), tagHint, errors.add(`${p}.tags`, null)),
      h("div", { class: "row" },
        fieldWith("Group function", s.group, `${p}.group_function`, "How the matching series are combined"),
        fieldWith("Summary function", s.summary, `${p}.summary_function`, "How points are rolled up")));
    const compositePart = h("div", { class: "composite-part" },
      fieldWith("Composite", s.composite, `${p}.composite`, "e.g. sum(s(\"cpu\", {\"host\": \"*\"}))"));
    const syncKind = () => {
      metricPart.hidden = !s.kindMetric.checked;
      compositePart.hidden = !s.kindComposite.checked;
    };
    s.kindMetric.addEventListener("change", syncKind);
    s.kindComposite.addEventListener("change", syncKind);
    syncKind();

    s.el = h("fieldset", { class: "stream", dataset: { index: i } },
      h("legend", {}, `Stream ${i + 1}`),
      h("div", { class: "tag-row", role: "radiogroup", "aria-label": "Stream kind" },
        h("label", { class: "inline" }, s.kindMetric, "Metric"),
        h("label", { class: "inline" }, s.kindComposite, "Composite")),
      errors.add(p, null),
      metricPart, compositePart,
      h("div", { class: "row" },
        fieldWith("Name", s.name, `${p}.name`),
        h("div", { class: "field" }, h("label", { for: s.color.id }, "Colour"),
          h("span", { class: "inline" }, s.useColor, s.color), errors.add(`${p}.color`, s.color))),
      h("div", { class: "row" },
        fieldWith("Units (short)", s.unitsShort, `${p}.units_short`),
        fieldWith("Units (long, Y axis)", s.unitsLong, `${p}.units_long`)),
      h("div", { class: "row" },
        fieldWith("Min", s.min, `${p}.min`), fieldWith("Max", s.max, `${p}.max`),
        fieldWith("Period (s)", s.period, `${p}.period`)),
      fieldWith("Transform function", s.transform, `${p}.transform_function`, "A linear formula of x (the value) and p (the period)"),
      button("Remove stream", () => { streams.splice(streams.indexOf(s), 1); rebuildStreams(); }, { class: "small danger" }));
    streams.push(s);
    streamList.append(s.el);
    if (spec.metric) loadTags();
  }
  function rebuildStreams() {
    const current = body().streams;
    streams.length = 0;
    replace(streamList);
    current.forEach(addStream);
  }
  (chart.streams || []).forEach(addStream);

  function body() {
    const out = { name: name.value.trim(), type: type.value, label: label.value.trim() || null,
      min: numberOrNull(min), max: numberOrNull(max), use_log_yaxis: logY.checked,
      use_last_value: lastValue.checked,
      thresholds: thresholds.map((t) => ({ operator: t.operator.value, value: numberOrNull(t.value), type: t.type.value })),
      streams: streams.map((s) => {
        const spec = {};
        if (s.id) spec.id = s.id;
        if (s.kindComposite.checked) spec.composite = s.composite.value;
        else {
          spec.metric = s.metric.value.trim();
          spec.tags = s.tagRows.map((r) => {
            const tag = { name: r.name.value.trim(), values: r.values.value.split(",").map((v) => v.trim()).filter(Boolean) };
            if (r.grouped.checked) tag.grouped = true;
            if (r.dynamic.checked) tag.dynamic = true;
            if (!tag.values.length) delete tag.values;
            return tag;
          });
          spec.group_function = s.group.value;
          if (s.summary.value) spec.summary_function = s.summary.value;
        }
        if (s.kindComposite.checked && s.summary.value) spec.summary_function = s.summary.value;
        for (const [key, input] of [["name", s.name], ["units_short", s.unitsShort], ["units_long", s.unitsLong],
          ["transform_function", s.transform]]) {
          if (input.value.trim()) spec[key] = input.value.trim();
        }
        for (const [key, input] of [["min", s.min], ["max", s.max], ["period", s.period]]) {
          const v = numberOrNull(input);
          if (v !== null) spec[key] = v;
        }
        if (s.useColor.checked) spec.color = s.color.value;
        return spec;
      }) };
    if (!out.thresholds.length) out.thresholds = null;
    return out;
  }

  // Preview.
  const previewBox = h("div", { class: "chart-body", id: "preview-chart" },
    h("p", { class: "muted" }, "Press Preview to draw the chart as it would be saved."));
  const previewRange = select(RANGES.map(([k, , l]) => [k, l]), "1h", { id: "preview-range", "aria-label": "Preview time range" });
  let drawn = null;
  ctx.onLeave(() => drawn?.destroy());

  function failed(err, what) {
    const rest = err.params ? errors.show(err.params) : [];
    replace(general, notice("error", `${what}: `, err.params ? (rest.length ? rest.join("; ") : "see the marked fields.") : err.message));
  }

  async function preview() {
    errors.clear();
    replace(general);
    const b = body();
    const win = windowOf({ range: previewRange.value });
    replace(previewBox, h("p", { class: "muted" }, "Evaluating…"));
    try {
      const data = await api("/v1/charts/preview", { method: "POST", body: b,
        params: { start_time: win.start, end_time: win.end }, signal: ctx.signal });
      drawn?.destroy();
      const shown = { ...b, streams: b.streams.map((s, i) => ({ ...s, id: i + 1 })) };
      drawn = drawChart(previewBox, shown, data, { start: win.start, end: win.end });
    } catch (err) {
      if (err.name === "AbortError") return;
      replace(previewBox, h("p", { class: "muted" }, "No preview: the chart has errors."));
      failed(err, "The chart cannot be drawn");
    }
  }

  async function save(e) {
    e.preventDefault();
    errors.clear();
    replace(general);
    const b = body();
    try {
      if (chartId) await api(`/v1/spaces/${spaceId}/charts/${chartId}`, { method: "PUT", body: b });
      else await api(`/v1/spaces/${spaceId}/charts`, { method: "POST", body: b });
      toast(`Chart ${b.name} saved`);
      ctx.navigate(`spaces/${spaceId}`);
    } catch (err) {
      failed(err, "The chart was not saved");
    }
  }

  const form = h("form", { class: "editor-form", novalidate: true, onsubmit: save },
    h("fieldset", {}, h("legend", {}, "Chart"),
      fieldWith("Name", name, "name"),
      h("div", { class: "row" }, fieldWith("Type", type, "type"), fieldWith("Label", label, "label", "Shown under a big number")),
      h("div", { class: "row" }, fieldWith("Y min", min, "min"), fieldWith("Y max", max, "max")),
      h("div", { class: "row" },
        h("label", { class: "inline" }, logY, "Logarithmic Y axis"),
        h("label", { class: "inline" }, lastValue, "Big number shows the last value (else the average)"))),
    h("fieldset", {}, h("legend", {}, "Thresholds"), errors.add("thresholds", null), thresholdList,
      button("Add threshold", () => addThreshold(), { class: "small" })),
    h("div", { class: "streams" }, errors.add("streams", null), streamList,
      button("Add stream", () => addStream(), { id: "add-stream" })),
    general,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", id: "save-chart" }, "Save"),
      button("Preview", preview, { id: "preview-button" }),
      h("a", { class: "button", href: `#/spaces/${spaceId}` }, "Cancel")));

  replace(ctx.main,
    h("div", { class: "page-head" },
      h("h1", {}, chartId ? `Edit chart ${chart.name}` : "New chart"),
      h("a", { href: `#/spaces/${spaceId}` }, `Back to ${space.name}`)),
    h("div", { class: "editor" }, form,
      h("section", { class: "panel preview", "aria-labelledby": "preview-title" },
        h("div", { class: "page-head" }, h("h2", { id: "preview-title" }, "Preview"), previewRange,
          button("Preview", preview, { class: "small" })),
        previewBox)));
  previewRange.addEventListener("change", preview);
  if (chartId) preview();
}
