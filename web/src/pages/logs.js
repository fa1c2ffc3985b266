// Logs: pick an app (or a site), read its recent lines, then follow it live — pause, resume,
// filter by text, source and stream; stderr lines stand out. Recent lines come from the
// log-cache read API (/api/v1/read), the live tail from the RLP gateway stream (/v2/read).

import { api } from "../api.js";
import { button, h, notice, replace, select, table } from "../dom.js";
import { readEvents } from "../sse.js";
import { fmtAgo } from "../time.js";

const MAX_LINES = 2000; // lines kept on the page; the oldest go first
const MAX_PAUSED = 5000; // lines held while paused
const RECENT = [["100", "100"], ["250", "250"], ["1000", "1000"]];

const decoder = new TextDecoder();
function payload(b64) {
  const binary = atob(b64 || "");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return decoder.decode(bytes);
}

// An envelope of the log-cache / RLP JSON → a line.
export function toLine(env) {
  const ns = String(env.timestamp || "0");
  return {
    key: `${env.source_id}|${ns}|${env.instance_id}|${env.log?.payload}`,
    ns, ms: Number(ns.length > 6 ? ns.slice(0, -6) : 0),
    app: env.source_id, source: env.tags?.source_type || "", instance: env.instance_id || "",
    stderr: env.log?.type === "ERR", message: payload(env.log?.payload),
  };
}

function clock(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

async function recentLines(apps, limit, signal, startNs) {
  const lines = [];
  for (const app of apps) {
    const params = { limit, descending: startNs ? "false" : "true", envelope_types: "LOG", start_time: startNs || null };
    const body = await api(`/api/v1/read/${encodeURIComponent(app)}`, { params, signal });
    lines.push(...(body.envelopes?.batch || []).map(toLine));
  }
  lines.sort((a, b) => (a.ns.length - b.ns.length) || (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return lines.slice(-limit);
}

const OUTCOMES = ["delivered", "dropped", "failed", "rejected"];

// Per-drain delivery counters from the server's own metrics (the drain JSON has none):
// vigil_log_drain_lines_total{drain, outcome} and vigil_log_drain_connected{drain}.
export function drainCounters(text) {
  const out = {};
  const labels = (raw) => Object.fromEntries([...raw.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
  for (const line of text.split("\n")) {
    const m = /^(vigil_log_drain_lines_total|vigil_log_drain_connected)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const l = labels(m[2]);
    const drain = (out[l.drain] ||= {});
    if (m[1] === "vigil_log_drain_connected") drain.connected = Number(m[3]) === 1;
    else drain[l.outcome] = Number(m[3]);
  }
  return out;
}

async function drains(kind, name, signal) {
  let list;
  try {
    const body = await api(`/${kind}s/${encodeURIComponent(name)}/log-drains`, { signal });
    list = Array.isArray(body) ? body : body?.drains || [];
  } catch (err) {
    if (err.name === "AbortError") throw err;
    if (err.status === 404 && /No such resource/.test(err.message)) {
      return notice("info", "This server has no drain API, so drains cannot be listed here.");
    }
    return notice("error", `Drains could not be listed: ${err.message}`);
  }
  if (!list.length) return notice("info", `This ${kind} has no drains.`);
  let counters = null;
  try {
    counters = drainCounters(await (await api("/metrics", { signal, raw: true })).text());
  } catch (err) {
    if (err.name === "AbortError") throw err;
  }
  const cell = (d, key) => (counters?.[d.id]?.[key] ?? "—");
  return h("div", {},
    table(["Drain", "Id", "Created", "Connected", ...OUTCOMES.map((o) => `Lines ${o}`)],
      list.map((d) => [d.url, d.id, d.created_at, counters?.[d.id] ? (counters[d.id].connected ? "yes" : "no") : "—",
        ...OUTCOMES.map((o) => cell(d, o))])),
    counters ? null : h("p", { class: "muted" }, "Delivery counters could not be read from the server's metrics."));
}

export async function render(ctx) {
  const kind = ctx.args[0] || null; // "app" | "site"
  const name = ctx.args[1] ? decodeURIComponent(ctx.args[1]) : null;
  const appSelect = select([["", "Loading apps…"]], "", { id: "log-app", "aria-label": "App" });
  const siteInput = h("input", { id: "log-site", placeholder: "www.example.com", value: kind === "site" ? name : "" });
  const picker = h("div", { class: "toolbar" },
    h("label", { class: "inline", for: "log-app" }, "App"), appSelect,
    h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      if (siteInput.value.trim()) ctx.navigate(`logs/site/${encodeURIComponent(siteInput.value.trim())}`);
    } }, h("label", { for: "log-site" }, "or site"), siteInput, h("button", { type: "submit" }, "Open")));
  appSelect.addEventListener("change", () => { if (appSelect.value) ctx.navigate(`logs/app/${encodeURIComponent(appSelect.value)}`); });
  const body = h("div", {});
  replace(ctx.main, h("div", { class: "page-head" }, h("h1", {}, name ? `Logs of ${name}` : "Logs")), picker, body);

  api("/api/v1/meta", { signal: ctx.signal }).then((meta) => {
    const apps = Object.entries(meta.meta || {}).sort(([a], [b]) => a.localeCompare(b));
    replace(appSelect, h("option", { value: "" }, apps.length ? "Pick an app" : "No app has logged yet"),
      apps.map(([app, m]) => h("option", { value: app, selected: kind === "app" && app === name },
        `${app} (${m.count} lines, last ${fmtAgo(Number(String(m.newestTimestamp).slice(0, -9)))})`)));
    if (kind === "app" && name && !meta.meta?.[name]) appSelect.append(h("option", { value: name, selected: true }, name));
    if (!name && !apps.length) {
      replace(body, notice("info", "No app has sent logs yet. Run a program with ",
        h("code", {}, "vigil run --app NAME -- COMMAND"), ", point a syslog drain at Vigil, or POST to /v1/logs."));
    }
  }).catch((err) => { if (err.name !== "AbortError") replace(body, notice("error", `Apps could not be listed: ${err.message}`)); });

  if (!name) {
    if (!body.firstChild) replace(body, notice("info", "Pick an app, or type a site's name, to read its logs."));
    return;
  }
  let apps = [name];
  if (kind === "site") {
    try {
      const site = await api(`/sites/${encodeURIComponent(name)}`, { signal: ctx.signal });
      apps = site.apps || [];
    } catch (err) {
      if (err.name === "AbortError") throw err;
      replace(body, notice("error", err.status === 404 ? `There is no site ${name}. A site exists once an admin sets its apps (PUT /sites/${name}).` : err.message));
      return;
    }
    if (!apps.length) { replace(body, notice("info", `The site ${name} has no apps.`)); return; }
  }

  const view = h("div", { class: "log-view", id: "log-view", role: "log", "aria-live": "off", tabindex: "0", "aria-label": "Log lines" });
  const stateText = h("span", {});
  const dot = h("span", { class: "dot" });
  const counter = h("span", { class: "muted" });
  const textFilter = h("input", { type: "search", id: "log-filter", placeholder: "Filter text", "aria-label": "Filter lines by text" });
  const sourceFilter = select([["", "All sources"]], "", { id: "log-source", "aria-label": "Source" });
  const streamFilter = select([["", "stdout and stderr"], ["stdout", "stdout only"], ["stderr", "stderr only"]], "", { id: "log-stream", "aria-label": "Stream" });
  const recentCount = select(RECENT, "100", { id: "log-recent", "aria-label": "Recent lines" });
  const pauseButton = button("Pause", () => setPaused(!paused), { id: "log-pause", "aria-pressed": "false" });

  const lines = []; // kept lines, oldest first
  const seen = new Set();
  const sources = new Set();
  let held = []; // lines received while paused
  let paused = false;
  let lastNs = null;

  const matches = (l) => {
    const text = textFilter.value.trim().toLowerCase();
    return (!text || l.message.toLowerCase().includes(text) || l.source.toLowerCase().includes(text))
      && (!sourceFilter.value || l.source === sourceFilter.value)
      && (!streamFilter.value || (streamFilter.value === "stderr") === l.stderr);
  };
  const lineEl = (l) => h("div", { class: ["log-line", l.stderr ? "stderr" : null, l.source === "vigil" ? "notice" : null] },
    h("span", { class: "ts" }, clock(l.ms)), " ",
    apps.length > 1 ? h("span", { class: "app" }, `${l.app} `) : null,
    h("span", { class: "src" }, `[${[l.source, l.instance].filter(Boolean).join("/")}]`), " ",
    h("span", { class: "std" }, l.stderr ? "ERR" : "OUT"), " ", l.message);
  const atBottom = () => view.scrollHeight - view.scrollTop - view.clientHeight < 30;
  const updateCounter = () => {
    counter.textContent = `${lines.length} line(s)${paused && held.length ? ` · ${held.length} new while paused` : ""}`;
  };
  function rerender() {
    lines.forEach((l) => { l.el = null; });
    replace(view, lines.filter(matches).map((l) => (l.el = lineEl(l))));
    if (!view.firstChild) view.append(h("div", { class: "muted" }, lines.length ? "No line matches the filters." : "No lines yet; new ones appear here as they come."));
    view.scrollTop = view.scrollHeight;
    updateCounter();
  }
  function add(batch) {
    const fresh = batch.filter((l) => !seen.has(l.key));
    if (!fresh.length) return;
    for (const l of fresh) {
      seen.add(l.key);
      lastNs = l.ns;
      if (l.source && !sources.has(l.source)) {
        sources.add(l.source);
        sourceFilter.append(h("option", { value: l.source }, l.source));
      }
    }
    if (paused) {
      held.push(...fresh);
      if (held.length > MAX_PAUSED) held.splice(0, held.length - MAX_PAUSED).forEach((l) => seen.delete(l.key));
      updateCounter();
      return;
    }
    display(fresh);
  }
  function display(fresh) {
    const follow = atBottom();
    if (view.firstChild && view.firstChild.classList.contains("muted")) replace(view);
    lines.push(...fresh);
    const frag = document.createDocumentFragment();
    fresh.filter(matches).forEach((l) => frag.append((l.el = lineEl(l))));
    view.append(frag);
    if (lines.length > MAX_LINES) {
      // The oldest lines leave the page (and the duplicate check) without redrawing the rest.
      const gone = lines.splice(0, lines.length - MAX_LINES);
      gone.forEach((l) => { seen.delete(l.key); l.el?.remove(); });
    }
    if (follow) view.scrollTop = view.scrollHeight;
    updateCounter();
  }
  function setPaused(value) {
    paused = value;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    pauseButton.setAttribute("aria-pressed", String(paused));
    setState(paused ? "paused" : "live");
    if (!paused && held.length) {
      const batch = held;
      held = [];
      display(batch);
    }
    updateCounter();
  }
  function setState(state, text) {
    dot.className = `dot ${state}`;
    stateText.textContent = text || { live: "Live", paused: "Paused (still receiving)", down: "Disconnected", connecting: "Connecting…" }[state];
  }
  [textFilter, sourceFilter, streamFilter].forEach((c) => c.addEventListener(c === textFilter ? "input" : "change", rerender));

  const drainBox = h("div", {}, h("p", { class: "muted" }, "Loading drains…"));
  replace(body,
    h("div", { class: "toolbar", role: "group", "aria-label": "Live tail" },
      h("span", { class: "log-state", "aria-live": "polite" }, dot, stateText), pauseButton,
      textFilter, sourceFilter, streamFilter,
      h("label", { class: "inline" }, "Recent ", recentCount), counter),
    kind === "site" ? h("p", { class: "muted" }, `Apps of this site: ${apps.join(", ")}`) : null,
    view,
    h("section", { "aria-labelledby": "drains-title" }, h("h2", { id: "drains-title" }, "Drains"), drainBox));
  drains(kind, name, ctx.signal).then((el) => replace(drainBox, el)).catch(() => {});

  async function loadRecent() {
    lines.length = 0;
    seen.clear();
    try {
      add(await recentLines(apps, Number(recentCount.value), ctx.signal));
    } catch (err) {
      if (err.name === "AbortError") return;
      view.append(h("div", { class: "log-line notice" }, `Recent lines could not be read: ${err.message}`));
    }
    rerender();
  }
  recentCount.addEventListener("change", loadRecent);

  // Follow: reconnect with backoff; after a gap, read what was missed from history.
  const url = `/v2/read?log&${apps.map((a) => `source_id=${encodeURIComponent(a)}`).join("&")}`;
  let delay = 1000;
  const live = [];
  let recentDone = false;
  let opened;
  const open = new Promise((resolve) => { opened = resolve; });
  (async () => {
    while (!ctx.signal.aborted) {
      setState("connecting");
      try {
        await readEvents(url, {
          signal: ctx.signal,
          onOpen: async () => {
            setState(paused ? "paused" : "live");
            delay = 1000;
            opened();
            if (recentDone && lastNs) {
              add(await recentLines(apps, 1000, ctx.signal, String(BigInt(lastNs) + 1n)).catch(() => []));
            }
          },
          onEvent: ({ event, data }) => {
            if (event !== "message") return;
            const batch = (JSON.parse(data).batch || []).map(toLine);
            if (recentDone) add(batch);
            else live.push(...batch);
          },
        });
      } catch (err) {
        if (err.name === "AbortError" || ctx.signal.aborted) return;
        setState("down", `Disconnected: ${err.message} Retrying…`);
      }
      if (ctx.signal.aborted) return;
      setState("down", "Disconnected. Reconnecting…");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(10000, delay * 2);
    }
  })();
  // The tail is open first, so no line falls between the recent read and the live stream; lines
  // in both are shown once.
  await Promise.race([open, new Promise((r) => setTimeout(r, 2000))]);
  await loadRecent();
  recentDone = true;
  add(live.splice(0));
}
