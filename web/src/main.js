// The app: sign-in gate, navigation, and a router over the URL's fragment (#/spaces/3?range=6h).

import { api, session, signOut, whenUnauthorized } from "./api.js";
import { h, replace, notice } from "./dom.js";
import * as signin from "./pages/signin.js";
import * as spaces from "./pages/spaces.js";
import * as space from "./pages/space.js";
import * as editor from "./pages/editor.js";
import * as metrics from "./pages/metrics.js";
import * as logs from "./pages/logs.js";
import * as events from "./pages/events.js";
import * as alerts from "./pages/alerts.js";

const ROUTES = [
  [/^signin$/, signin.render, null],
  [/^spaces$/, spaces.render, "spaces"],
  [/^spaces\/(\d+)$/, space.render, "spaces"],
  [/^spaces\/(\d+)\/charts\/(new|\d+)$/, editor.render, "spaces"],
  [/^metrics$/, metrics.render, "metrics"],
  [/^metrics\/(.+)$/, metrics.render, "metrics"],
  [/^logs$/, logs.render, "logs"],
  [/^logs\/(app|site)\/(.+)$/, logs.render, "logs"],
  [/^events$/, events.render, "events"],
  [/^events\/([a-z]+)(?:\/(.+))?$/, events.render, "events"],
  [/^alerts$/, alerts.render, "alerts"],
  [/^alerts\/(\d+)$/, alerts.render, "alerts"],
];

const NAV = [["spaces", "Spaces"], ["metrics", "Metrics"], ["logs", "Logs"], ["events", "Events"], ["alerts", "Alerts"]];

let cleanup = null;
let signinMessage = null;

export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#\/?/, "");
  const [path, q = ""] = text.split("?");
  return { path: decodeURIComponent(path), query: new URLSearchParams(q) };
}

export function navigate(path, query) {
  const q = query && [...new URLSearchParams(query)].length ? `?${new URLSearchParams(query)}` : "";
  const target = `#/${path}${q}`;
  if (location.hash === target) route();
  else location.hash = target;
}

// Change the fragment's query without re-rendering the page (the page already shows it).
export function setQuery(query) {
  const { path } = parseHash();
  const q = [...new URLSearchParams(query)].length ? `?${new URLSearchParams(query)}` : "";
  history.replaceState(null, "", `#/${path}${q}`);
}

function header(active) {
  const top = document.getElementById("top");
  top.hidden = false;
  replace(top,
    h("a", { class: "brand", href: "#/spaces" }, "Vigil"),
    h("nav", { "aria-label": "Main" }, h("ul", {}, NAV.map(([key, label]) => h("li", {},
      h("a", { href: `#/${key}`, "aria-current": key === active ? "page" : null }, label))))),
    h("div", { class: "who" },
      h("span", { class: "muted" }, `${session.name || "token"} · `),
      h("span", { class: `role role-${session.role}` }, session.role),
      h("button", { type: "button", class: "link", onclick: () => { signOut(); navigate("signin"); } }, "Sign out")));
}

async function ensureSession() {
  if (!session.token) return false;
  if (session.role) return true;
  try {
    const who = await api("/v1/whoami");
    session.role = who.role;
    session.name = who.name;
    return true;
  } catch (err) {
    signinMessage = err.status === 401 || err.status === 403 ? err.message : null;
    if (err.status === 401 || err.status === 403) signOut();
    else throw err;
    return false;
  }
}

let routeSeq = 0;

async function route() {
  const seq = ++routeSeq;
  if (cleanup) { try { cleanup(); } catch (err) { console.warn(err); } cleanup = null; }
  const main = document.getElementById("main");
  const { path, query } = parseHash();
  if (!path) { navigate("spaces"); return; }
  let ok;
  try {
    ok = await ensureSession();
  } catch (err) {
    if (seq === routeSeq) replace(main, notice("error", err.message, " ", h("button", { type: "button", onclick: route }, "Retry")));
    return;
  }
  if (seq !== routeSeq) return;
  if (!ok && path !== "signin") {
    sessionStorage.setItem("vigil.after", location.hash);
    navigate("signin");
    return;
  }
  if (ok && path === "signin") { navigate("spaces"); return; }
  const found = ROUTES.find(([re]) => re.test(path));
  // Each page renders into its own element: whatever a page still writes after the user has moved
  // on lands in a detached element, and its timers and requests stop with `signal`.
  const root = h("div", { class: "page" });
  replace(main, root);
  if (!found) {
    header(null);
    replace(root, h("h1", {}, "Not found"),
      notice("info", "There is no page at this address. ", h("a", { href: "#/spaces" }, "Go to the spaces.")));
    focusHeading(root);
    return;
  }
  const [re, render, section] = found;
  if (section) header(section);
  else document.getElementById("top").hidden = true;
  const controller = new AbortController();
  const leave = [];
  cleanup = () => { controller.abort(); leave.splice(0).forEach((fn) => fn()); };
  const ctx = {
    main: root, args: path.match(re).slice(1), query, navigate, setQuery, signal: controller.signal,
    message: signinMessage,
    onLeave: (fn) => (controller.signal.aborted ? fn() : leave.push(fn)),
    every: (ms, fn) => { const t = setInterval(fn, ms); ctx.onLeave(() => clearInterval(t)); return t; },
    afterSignIn: () => {
      const after = sessionStorage.getItem("vigil.after");
      sessionStorage.removeItem("vigil.after");
      if (after && !after.startsWith("#/signin")) location.hash = after;
      else navigate("spaces");
    },
  };
  signinMessage = null;
  try {
    await render(ctx);
  } catch (err) {
    if (err.name === "AbortError" || controller.signal.aborted) return;
    console.error(err);
    replace(root, notice("error", err.message || String(err), " ",
      h("button", { type: "button", onclick: route }, "Retry")));
  }
  if (seq === routeSeq) focusHeading(root);
}

// Move the focus to the new page's heading (screen readers announce it), unless the user is
// already working inside the page.
function focusHeading(root) {
  const heading = root.querySelector("h1");
  if (heading && !root.contains(document.activeElement)) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

whenUnauthorized((message) => {
  // The token was deactivated or deleted while in use: back to the sign-in page with the reason.
  if (!session.token) return;
  signOut();
  signinMessage = `${message} Sign in again with an active token.`;
  sessionStorage.setItem("vigil.after", location.hash);
  navigate("signin");
});

document.getElementById("skip").addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", route);
route();
