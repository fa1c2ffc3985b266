// Charts of a space: line and stacked charts drawn by uPlot (canvas), big numbers as text.
// The server has already applied transform functions, group and summary functions and composites
// (GET …/charts/:id/data); what is left here is how it looks: colours, units, axes, min/max,
// thresholds, annotations, tooltips.

import uPlot from "/ui/vendor/uplot/uPlot.esm.js";
import { h, replace } from "./dom.js";
import { fmtTime, fmtValue } from "./time.js";

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
  "#7f7f7f", "#d62728"];
const THRESHOLD_COLORS = { red: "#d62728", yellow: "#e6b800" };
const ANNOTATION_COLOR = "#7b4fd6";
const MAX_LEGEND = 20;
const MAX_TOOLTIP_ROWS = 15;

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function rgbToHex([r, g, b]) {
  return `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`;
}

// The k-th series of a stream with a colour: the colour itself, then lighter and darker variants.
export function shade(hex, k) {
  if (!k) return hex;
  const rgb = hexToRgb(hex);
  const amount = Math.min(0.75, 0.32 * Math.ceil(k / 2));
  const target = k % 2 ? 255 : 0;
  return rgbToHex(rgb.map((v) => v + (target - v) * amount));
}

function alpha(hex, a) {
  const [r, g, b] = hexToRgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}

export function seriesLabel(s) {
  const tags = Object.entries(s.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  return tags ? `${s.name} (${tags})` : s.name;
}

// Each series of the /data answer with what it is drawn with: colour, units, scale.
export function describeSeries(chart, data) {
  const streams = new Map((chart.streams || []).map((st, i) => [st.id ?? i + 1, st]));
  const perStream = new Map();
  return (data.series || []).map((s, i) => {
    const stream = streams.get(s.stream_id) || {};
    const k = perStream.get(s.stream_id) || 0;
    perStream.set(s.stream_id, k + 1);
    const color = stream.color ? shade(stream.color, k) : PALETTE[i % PALETTE.length];
    return { series: s, stream, color, label: seriesLabel(s), units: stream.units_short || "" };
  });
}

// One x array (every time any series has a point) and each series' values on it (null = no point).
export function align(series) {
  const times = new Set();
  for (const s of series) for (const p of s.measurements) times.add(p.time);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const out = new Array(xs.length).fill(null);
    for (const p of s.measurements) out[index.get(p.time)] = p.value;
    return out;
  });
  return { xs, ys };
}

export function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
  return null;
}

function average(values) {
  const present = values.filter((v) => v !== null && v !== undefined);
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
}

// The colour a big number takes: red if a red threshold holds, else yellow if a yellow one does.
export function thresholdState(value, thresholds) {
  if (value === null) return null;
  const holds = (t) => (t.operator === ">" ? value > t.value : t.operator === "<" ? value < t.value : value === t.value);
  const hit = (thresholds || []).filter(holds);
  if (hit.some((t) => t.type === "red")) return "red";
  if (hit.some((t) => t.type === "yellow")) return "yellow";
  return null;
}

function rangeFor(lo, hi, log) {
  return (u, dataMin, dataMax) => {
    if (dataMin === null || dataMax === null) {
      dataMin = lo ?? 0;
      dataMax = hi ?? 1;
    }
    const auto = log ? uPlot.rangeLog(dataMin, dataMax, 10, true) : uPlot.rangeNum(dataMin, dataMax, 0.1, true);
    const min = lo ?? auto[0];
    const max = hi ?? auto[1];
    return max > min ? [min, max] : [min, min + 1];
  };
}

function tooltipPlugin(described, raw, annotations, xsRef) {
  let tip;
  return {
    hooks: {
      init: (u) => {
        tip = h("div", { class: "chart-tip", hidden: true });
        u.over.append(tip);
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        if (idx === null || idx === undefined || u.cursor.left < 0) {
          tip.hidden = true;
          return;
        }
        const t = xsRef.xs[idx];
        const rows = [];
        described.forEach((d, i) => {
          const v = raw[i][idx];
          if (v !== null && v !== undefined) rows.push({ d, v });
        });
        const near = annotations.filter((a) => Math.abs(u.valToPos(a.start_time, "x") - u.cursor.left) <= 6
          || (a.end_time && a.start_time <= u.posToVal(u.cursor.left, "x") && u.posToVal(u.cursor.left, "x") <= a.end_time));
        replace(tip,
          h("div", { class: "tip-time" }, fmtTime(t)),
          near.map((a) => h("div", { class: "tip-annotation" }, `◆ ${a.title}${a.stream ? ` (${a.stream})` : ""}`)),
          rows.slice(0, MAX_TOOLTIP_ROWS).map(({ d, v }) => h("div", { class: "tip-row" },
            h("span", { class: "swatch", style: { background: d.color } }),
            h("span", { class: "tip-label" }, d.label),
            h("span", { class: "tip-value" }, fmtValue(v, d.units)))),
          rows.length > MAX_TOOLTIP_ROWS ? h("div", { class: "muted" }, `and ${rows.length - MAX_TOOLTIP_ROWS} more`) : null,
          rows.length || near.length ? null : h("div", { class: "muted" }, "no value here"));
        tip.hidden = false;
        const width = u.over.clientWidth;
        const left = u.cursor.left + 14;
        tip.style.left = `${left + tip.offsetWidth > width ? Math.max(0, u.cursor.left - tip.offsetWidth - 14) : left}px`;
        tip.style.top = `${Math.max(0, Math.min(u.cursor.top + 10, u.over.clientHeight - tip.offsetHeight))}px`;
      },
    },
  };
}

function drawExtras(chart, annotations) {
  return (u) => {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const dpr = uPlot.pxRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    // Whole device pixels and an even width: crisp lines in exactly their colour.
    const lineWidth = 2 * Math.max(1, Math.round(dpr));
    for (const a of annotations) {
      const x0 = Math.round(u.valToPos(a.start_time, "x", true));
      if (a.end_time && a.end_time > a.start_time) {
        const x1 = u.valToPos(a.end_time, "x", true);
        ctx.fillStyle = alpha(ANNOTATION_COLOR, 0.12);
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
      ctx.strokeStyle = ANNOTATION_COLOR;
      ctx.lineWidth = lineWidth;
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.moveTo(x0, top);
      ctx.lineTo(x0, top + height);
      ctx.stroke();
    }
    if (chart.type !== "bignumber") {
      const scale = Object.keys(u.scales).find((k) => k !== "x") || "y";
      for (const t of chart.thresholds || []) {
        const y = Math.round(u.valToPos(t.value, scale, true));
        if (!Number.isFinite(y)) continue;
        ctx.strokeStyle = THRESHOLD_COLORS[t.type] || THRESHOLD_COLORS.red;
        ctx.lineWidth = lineWidth;
        ctx.setLineDash([6 * dpr, 4 * dpr]);
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
      }
    }
    ctx.restore();
  };
}

function legend(described, raw) {
  const items = described.slice(0, MAX_LEGEND).map((d, i) => h("li", {},
    h("span", { class: "swatch", style: { background: d.color } }),
    h("span", { class: "legend-label" }, d.label),
    h("span", { class: "legend-value" }, fmtValue(lastValue(raw[i]), d.units))));
  return h("ul", { class: "legend", "aria-label": "Series and their latest values" }, items,
    described.length > MAX_LEGEND ? h("li", { class: "muted" }, `and ${described.length - MAX_LEGEND} more series`) : null);
}

function bigNumber(el, chart, described, raw) {
  const first = described[0];
  const values = raw[0] || [];
  const value = chart.use_last_value === false ? average(values) : lastValue(values);
  const state = thresholdState(value, chart.thresholds);
  replace(el, h("div", { class: ["bignumber", state], "data-state": state || "none" },
    h("span", { class: "big-value" }, fmtValue(value, first ? first.units : "")),
    h("span", { class: "big-label" }, chart.label || (first ? first.label : "")),
    state ? h("span", { class: "visually-hidden" }, `(${state} threshold reached)`) : null));
  return { destroy() {} };
}

// Draws `chart` ({type, streams, thresholds, min, max, use_log_yaxis, use_last_value, label}) with
// `data` (the /data answer) into `el`; `annotations` are [{title, start_time, end_time, stream}].
// Returns {destroy()}.
export function drawChart(el, chart, data, { start, end, annotations = [], height = 220, onZoom } = {}) {
  const described = describeSeries(chart, data);
  const { xs, ys } = align(described.map((d) => d.series));
  if (chart.type === "bignumber") return bigNumber(el, chart, described, ys);
  if (!described.length || !xs.length) {
    replace(el, h("div", { class: "chart-empty" }, "No measurements for this chart's streams in this time range."));
    return { destroy() {} };
  }
  const stacked = chart.type === "stacked";
  const log = Boolean(chart.use_log_yaxis) && !stacked;
  // One scale per units_long (the Y axis label), the first on the left.
  const scaleOf = new Map();
  const scales = { x: { time: true, range: [start ?? xs[0], end ?? xs[xs.length - 1]] } };
  const axes = [{ stroke: "#555", grid: { stroke: "#eee" }, ticks: { stroke: "#ddd" } }];
  for (const d of described) {
    const unit = stacked ? (described[0].stream.units_long || "") : (d.stream.units_long || "");
    if (!scaleOf.has(unit)) {
      const key = scaleOf.size ? `y${scaleOf.size + 1}` : "y";
      scaleOf.set(unit, key);
      const first = scaleOf.size === 1;
      // A stacked chart of amounts starts at 0 unless told otherwise.
      const floor = stacked && ys.every((values) => values.every((v) => v === null || v >= 0)) ? 0 : null;
      const lo = first && chart.min !== undefined && chart.min !== null ? chart.min : d.stream.min ?? floor;
      const hi = first && chart.max !== undefined && chart.max !== null ? chart.max : d.stream.max;
      scales[key] = { range: rangeFor(lo ?? null, hi ?? null, log), ...(log ? { distr: 3, log: 10 } : {}) };
      axes.push({
        scale: key, side: first ? 3 : 1, label: unit || undefined, stroke: "#555", size: 60,
        grid: { show: first, stroke: "#eee" }, ticks: { stroke: "#ddd" },
        values: (u, splits) => splits.map((v) => fmtValue(v)),
      });
    }
    d.scale = scaleOf.get(unit);
  }
  let plotted = ys;
  const bands = [];
  if (stacked) {
    const sums = new Array(xs.length).fill(0);
    plotted = ys.map((values) => values.map((v, j) => (sums[j] += v ?? 0)));
    for (let i = 1; i < plotted.length; i++) bands.push({ series: [i + 1, i] });
  }
  const xsRef = { xs };
  const series = [{}, ...described.map((d) => ({
    label: d.label, stroke: d.color, width: 2, scale: d.scale, spanGaps: stacked,
    fill: stacked ? alpha(d.color, 0.35) : undefined,
  }))];
  const width = Math.max(200, el.clientWidth || 600);
  const opts = {
    width, height, scales, axes, series, bands,
    legend: { show: false },
    cursor: { drag: { x: Boolean(onZoom), y: false }, points: { size: 6 } },
    select: { show: Boolean(onZoom) },
    hooks: {
      draw: [drawExtras(chart, annotations)],
      setSelect: [(u) => {
        if (!onZoom || u.select.width < 5) return;
        const a = u.posToVal(u.select.left, "x");
        const b = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ width: 0, height: 0 }, false);
        onZoom(Math.floor(a), Math.ceil(b));
      }],
    },
    plugins: [tooltipPlugin(described, ys, annotations, xsRef)],
  };
  const plotBox = h("div", { class: "plot" });
  replace(el, plotBox, legend(described, ys));
  const u = new uPlot(opts, [xs, ...plotted], plotBox);
  // Keyboard: arrows move the cursor through the points, showing the tooltip; Escape hides it.
  plotBox.tabIndex = 0;
  plotBox.setAttribute("role", "img");
  plotBox.setAttribute("aria-label", `${chart.type} chart with ${described.length} series: `
    + described.slice(0, 5).map((d, i) => `${d.label} latest ${fmtValue(lastValue(ys[i]), d.units)}`).join("; "));
  let idx = null;
  plotBox.addEventListener("keydown", (e) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End", "Escape"].includes(e.key)) return;
    e.preventDefault();
    if (e.key === "Escape") idx = null;
    else if (e.key === "Home") idx = 0;
    else if (e.key === "End") idx = xs.length - 1;
    else idx = Math.max(0, Math.min(xs.length - 1, (idx ?? (e.key === "ArrowLeft" ? xs.length : -1)) + (e.key === "ArrowLeft" ? -1 : 1)));
    if (idx === null) u.setCursor({ left: -10, top: -10 });
    else u.setCursor({ left: u.valToPos(xs[idx], "x"), top: u.bbox.height / uPlot.pxRatio / 2 });
  });
  const resize = new ResizeObserver(() => {
    const w = Math.max(200, plotBox.clientWidth);
    if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height });
  });
  resize.observe(plotBox);
  return { destroy() { resize.disconnect(); u.destroy(); }, plot: u };
}
