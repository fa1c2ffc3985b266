// A tiny element builder. Text always goes in as text nodes, never as HTML: nothing the server
// sends (metric names, log lines, notification payloads) can inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = value;
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked" || key === "selected" || key === "disabled" || key === "hidden") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let uid = 0;
export function newId(prefix = "v") {
  uid += 1;
  return `${prefix}-${uid}`;
}

export function select(options, value, attrs = {}) {
  return h("select", attrs, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value: v, selected: String(v) === String(value) }, label);
  }));
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, label);
}

// A message in place of content: an empty list, an error, a hint about what to do next.
export function notice(kind, ...children) {
  return h("div", { class: ["notice", kind], role: kind === "error" ? "alert" : null }, children);
}

export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  if (!el) return;
  el.className = `toast show ${kind}`;
  el.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = "toast"; el.textContent = ""; }, 4000);
}

// A table from a header row and data rows; `cell(value, rowIndex, columnIndex, row)` may return a node.
export function table(headers, rows, { cell, caption, rowClass } = {}) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, String(x))))),
      h("tbody", {}, rows.map((row, i) => h("tr", { class: rowClass ? rowClass(row, i) : null },
        row.map((value, j) => h("td", {}, cell ? cell(value, i, j, row) : display(value))))))));
}

export function display(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// A modal question (a native <dialog>: focus stays inside, Escape cancels). Resolves true or false.
export function confirmDialog(message, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-label": "Confirm" },
      h("form", { method: "dialog" },
        h("p", {}, message),
        h("div", { class: "actions" },
          h("button", { value: "cancel", type: "submit" }, "Cancel"),
          h("button", { value: "ok", type: "submit", class: "danger" }, confirmLabel))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("button[value=cancel]").focus();
  });
}
