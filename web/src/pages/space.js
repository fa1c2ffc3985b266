// A space: its charts drawn live over a time range, with auto-refresh, annotations and a drop-down
// filter for every dynamic tag (`@host`) of its charts.

import { api, listAll, session } from "../api.js";
import { drawChart } from "../chart.js";
import { button, confirmDialog, h, notice, replace, select, toast } from "../dom.js";
import { REFRESH, RANGES, fromLocalInput, fmtTime, toLocalInput, windowOf } from "../time.js";

const PARALLEL = 4; // chart data requests at a time
const MAX_ANNOTATION_STREAMS = 20;
const MAX_TAG_METRICS = 5; // metrics asked for the values of one dynamic tag
const TAG_PAGES = 3; // pages of 100 values each

// Runs `fn` over `items` with at most `limit` at a time.
export async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

export function dynamicTags(charts) {
  const names = new Map(); // tag name → metrics whose streams have it as a dynamic tag
  for (const chart of charts) {
    for (const stream of chart.streams || []) {
      for (const tag of stream.tags || []) {
        if (!tag.dynamic) continue;
        const name = tag.name.replace(/^@/, "").toLowerCase();
        if (!names.has(name)) names.set(name, new Set());
        if (stream.metric) names.get(name).add(stream.metric);
      }
    }
  }
  return names;
}

// The values a tag has among a metric's series in the window: one grouped query per metric.
export async function tagValues(tag, metrics, win, signal) {
  const values = new Set();
  const resolution = Math.min(604800, Math.max(60, win.end - win.start));
  for (const metric of [...metrics].slice(0, MAX_TAG_METRICS)) {
    let params = { start_time: win.start, end_time: win.end, resolution, group_by: tag, group_by_function: "sum",
      summary_function: "count" };
    for (let page = 0; page < TAG_PAGES; page++) {
      let body;
      try {
        body = await api(`/v1/measurements/${encodeURIComponent(metric)}`, { params, signal });
      } catch (err) {
        if (err.name === "AbortError") throw err;
        break; // a metric without data yet has no values to offer
      }
      for (const s of body.series || []) if (s.tags && s.tags[tag] !== undefined) values.add(s.tags[tag]);
      const next = (body.links || []).find((l) => l.rel === "next");
      if (!next) break;
      params = Object.fromEntries(new URL(next.href, location.origin).searchParams);
    }
  }
  return [...values].sort();
}

async function annotationsIn(win, signal) {
  const streams = await listAll("/v1/annotations", "annotations", {}, MAX_ANNOTATION_STREAMS);
  const events = [];
  await pool(streams, PARALLEL, async (stream) => {
    const body = await api(`/v1/annotations/${encodeURIComponent(stream.name)}`,
      { params: { start_time: win.start, end_time: win.end }, signal });
    for (const bySource of body.events || []) {
      for (const list of Object.values(bySource)) {
        for (const e of list) events.push({ ...e, stream: stream.display_name || stream.name });
      }
    }
  });
  return events;
}

export async function render(ctx) {
  const spaceId = Number(ctx.args[0]);
  const q = ctx.query;
  const state = {
    range: q.get("range") || "1h",
    start: Number(q.get("start")) || null,
    end: Number(q.get("end")) || null,
    refresh: q.get("refresh") ?? "60",
    annotations: q.get("annotations") !== "off",
    tags: Object.fromEntries([...q].filter(([k]) => k.startsWith("tag.")).map(([k, v]) => [k.slice(4), v])),
  };
  const [space, charts] = await Promise.all([
    api(`/v1/spaces/${spaceId}`, { signal: ctx.signal }),
    api(`/v1/spaces/${spaceId}/charts`, { signal: ctx.signal }),
  ]);

  const drawn = new Map(); // chart id → {destroy}
  ctx.onLeave(() => drawn.forEach((d) => d.destroy()));
  const grid = h("div", { class: "chart-grid", id: "chart-grid" });
  const status = h("p", { class: "muted refresh-status", "aria-live": "polite" });
  const tagBar = h("div", { class: "tag-filters" });

  function saveQuery() {
    const out = new URLSearchParams();
    if (state.range !== "1h") out.set("range", state.range);
    if (state.range === "custom") { out.set("start", state.start); out.set("end", state.end); }
    if (state.refresh !== "60") out.set("refresh", state.refresh);
    if (!state.annotations) out.set("annotations", "off");
    for (const [k, v] of Object.entries(state.tags)) if (v) out.set(`tag.${k}`, v);
    ctx.setQuery(out);
  }

  // Time range: radio buttons (arrow keys move between them), custom start/end.
  const customStart = h("input", { type: "datetime-local", "aria-label": "From" });
  const customEnd = h("input", { type: "datetime-local", "aria-label": "To" });
  const customBox = h("form", { class: "custom-range", hidden: state.range !== "custom", onsubmit: (e) => {
    e.preventDefault();
    const start = fromLocalInput(customStart.value);
    const end = fromLocalInput(customEnd.value);
    if (!start || !end || start >= end) {
      toast("Pick a start before the end.", "error");
      return;
    }
    Object.assign(state, { range: "custom", start, end });
    saveQuery();
    refresh();
  } }, customStart, customEnd, h("button", { type: "submit" }, "Apply"));
  const fillCustom = () => {
    const win = windowOf(state);
    customStart.value = toLocalInput(win.start);
    customEnd.value = toLocalInput(win.end);
  };
  fillCustom();
  const rangeGroup = h("fieldset", { class: "segmented" }, h("legend", { class: "visually-hidden" }, "Time range"),
    [...RANGES.map(([key, , label]) => [key, key, label]), ["custom", "Custom", "Custom range"]].map(([key, text, label]) =>
      h("label", { title: label },
        h("input", { type: "radio", name: "range", value: key, checked: state.range === key, onchange: () => {
          if (key === "custom") {
            fillCustom();
            customBox.hidden = false;
            customStart.focus();
            return;
          }
          customBox.hidden = true;
          state.range = key;
          saveQuery();
          refresh();
        } }),
        h("span", {}, text))));
  const refreshSelect = select(REFRESH, state.refresh, { id: "refresh-every", onchange: () => {
    state.refresh = refreshSelect.value;
    saveQuery();
    startTimer();
  } });
  const annotationsBox = h("input", { type: "checkbox", id: "show-annotations", checked: state.annotations, onchange: () => {
    state.annotations = annotationsBox.checked;
    saveQuery();
    refresh();
  } });

  replace(ctx.main,
    h("div", { class: "page-head" },
      h("h1", {}, space.name),
      session.canEdit ? h("a", { class: "button primary", href: `#/spaces/${spaceId}/charts/new` }, "Add chart") : null),
    h("div", { class: "toolbar", role: "group", "aria-label": "Time range and refresh" },
      rangeGroup, customBox,
      h("label", { class: "inline" }, "Auto-refresh ", refreshSelect),
      button("Refresh now", () => refresh()),
      h("label", { class: "inline" }, annotationsBox, " Annotations")),
    tagBar, status, grid);

  if (!charts.length) {
    replace(grid, notice("info", "This space has no charts yet. ",
      session.canEdit ? h("a", { href: `#/spaces/${spaceId}/charts/new` }, "Add the first chart.")
        : "An admin can add charts."));
  }

  const cards = new Map();
  for (const chart of charts) {
    const body = h("div", { class: "chart-body" }, h("p", { class: "muted" }, "Loading…"));
    const titleId = `chart-title-${chart.id}`;
    const card = h("section", { class: ["chart-card", `type-${chart.type}`], dataset: { chartId: chart.id }, "aria-labelledby": titleId },
      h("header", {},
        h("h2", { id: titleId }, chart.name),
        session.canEdit ? h("div", { class: "actions" },
          h("a", { class: "button small", href: `#/spaces/${spaceId}/charts/${chart.id}`, "aria-label": `Edit ${chart.name}` }, "Edit"),
          button("Delete", async () => {
            if (!(await confirmDialog(`Delete the chart ${chart.name}?`))) return;
            try {
              await api(`/v1/spaces/${spaceId}/charts/${chart.id}`, { method: "DELETE" });
              drawn.get(chart.id)?.destroy();
              drawn.delete(chart.id);
              card.remove();
              charts.splice(charts.indexOf(chart), 1);
              toast(`Chart ${chart.name} deleted`);
            } catch (err) {
              toast(err.message, "error");
            }
          }, { class: "small danger", "aria-label": `Delete ${chart.name}` })) : null),
      body);
    cards.set(chart.id, body);
    grid.append(card);
  }

  // Dynamic tags: one drop-down each; its values are looked up for the current window.
  const dynamic = dynamicTags(charts);
  async function loadTagValues(win) {
    if (!dynamic.size) { replace(tagBar); tagBar.hidden = true; return; }
    tagBar.hidden = false;
    const controls = [];
    for (const [tag, metrics] of dynamic) {
      let values = [];
      try {
        values = await tagValues(tag, metrics, win, ctx.signal);
      } catch (err) {
        if (err.name === "AbortError") throw err;
      }
      if (state.tags[tag] && !values.includes(state.tags[tag])) values.push(state.tags[tag]);
      const control = select([["", `All (${values.length})`], ...values.map((v) => [v, v])], state.tags[tag] || "", {
        id: `tag-${tag}`, onchange: () => {
          state.tags[tag] = control.value;
          saveQuery();
          refresh(false);
        } });
      controls.push(h("label", { class: "inline" }, `${tag} `, control));
    }
    replace(tagBar, h("span", { class: "muted" }, "Filter: "), controls);
  }

  let running = null;
  async function refresh(withTags = true) {
    if (running) return running;
    running = (async () => {
      const win = windowOf(state);
      status.textContent = "Updating…";
      const annotations = state.annotations ? await annotationsIn(win, ctx.signal).catch((err) => {
        if (err.name === "AbortError") throw err;
        return [];
      }) : [];
      // Alongside the charts; its failures other than leaving the page leave the drop-downs as they were.
      const tagsLoaded = withTags ? loadTagValues(win).catch(() => {}) : null;
      const params = { start_time: win.start, end_time: win.end };
      for (const [k, v] of Object.entries(state.tags)) if (v) params[`tags[${k}]`] = v;
      let failed = 0;
      await pool([...charts], PARALLEL, async (chart) => {
        const body = cards.get(chart.id);
        try {
          const data = await api(`/v1/spaces/${spaceId}/charts/${chart.id}/data`, { params, signal: ctx.signal });
          drawn.get(chart.id)?.destroy();
          drawn.set(chart.id, drawChart(body, chart, data, {
            start: win.start, end: win.end, annotations,
            onZoom: (start, end) => {
              Object.assign(state, { range: "custom", start, end });
              rangeGroup.querySelector("input[value=custom]").checked = true;
              customBox.hidden = false;
              fillCustom();
              saveQuery();
              refresh();
            },
          }));
          body.closest(".chart-card").dataset.drawn = String(Date.now());
        } catch (err) {
          if (err.name === "AbortError") throw err;
          failed += 1;
          drawn.get(chart.id)?.destroy();
          drawn.delete(chart.id);
          replace(body, notice("error", `This chart's data could not be loaded: ${err.message}`,
            session.canEdit ? " Edit the chart to fix its streams." : ""));
        }
      });
      await tagsLoaded;
      status.textContent = `${win.live ? "Last updated" : "Showing"} ${fmtTime(win.live ? win.end : win.start)}`
        + `${win.live ? "" : ` to ${fmtTime(win.end)}`}${failed ? ` · ${failed} chart(s) failed` : ""}`;
    })().catch((err) => { if (err.name !== "AbortError") toast(err.message, "error"); })
      .finally(() => { running = null; });
    return running; // never rejects: callers from timers and events need not handle anything

  }

  let timer = null;
  function startTimer() {
    if (timer) clearInterval(timer);
    const every = Number(state.refresh);
    timer = every ? ctx.every(every * 1000, () => {
      if (!document.hidden && state.range !== "custom") refresh(false);
    }) : null;
  }
  startTimer();
  await refresh();
}
