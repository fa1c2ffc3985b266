// Time ranges (the picker) and how times and values are written.

export const RANGES = [
  ["1h", 3600, "Last hour"],
  ["6h", 6 * 3600, "Last 6 hours"],
  ["1d", 86400, "Last day"],
  ["1w", 7 * 86400, "Last week"],
];

export const REFRESH = [["0", "Off"], ["30", "30 s"], ["60", "1 min"], ["300", "5 min"]];

// {range: "1h"|…|"custom", start, end} → {start, end, live} in epoch seconds.
export function windowOf(state, now = Date.now() / 1000) {
  if (state.range === "custom" && state.start && state.end && state.start < state.end) {
    return { start: Math.floor(state.start), end: Math.floor(state.end), live: false };
  }
  const found = RANGES.find(([key]) => key === state.range) || RANGES[0];
  const end = Math.floor(now);
  return { start: end - found[1], end, live: true };
}

const pad = (n) => String(n).padStart(2, "0");

// For <input type="datetime-local">: local time, minutes.
export function toLocalInput(epoch) {
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(text) {
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

export function fmtTime(epoch, withSeconds = true) {
  const d = new Date(epoch * 1000);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}${withSeconds ? `:${pad(d.getSeconds())}` : ""}`;
  return `${date} ${time}`;
}

export function fmtAgo(epoch, now = Date.now() / 1000) {
  const s = Math.max(0, Math.round(now - epoch));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

// A value for people: at most 4 significant digits, large numbers with k/M/G/T, then the units.
export function fmtValue(value, units = "") {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const suffix = units ? ` ${units}` : "";
  const abs = Math.abs(value);
  for (const [size, letter] of SI) {
    if (abs >= size) return `${trim(value / size)}${letter}${suffix}`;
  }
  return `${trim(value)}${suffix}`;
}

function trim(v) {
  if (v === 0) return "0";
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 1 : abs >= 1 ? 2 : 4;
  return String(Number(v.toFixed(digits)));
}
