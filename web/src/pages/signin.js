// Sign-in with an API token. The token stays in this tab's sessionStorage and goes to the server as
// HTTP Basic auth on every request; closing the tab forgets it.

import { api, saveToken } from "../api.js";
import { h, notice, replace } from "../dom.js";

export function render(ctx) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password",
    required: true, spellcheck: "false", "aria-describedby": "token-hint" });
  const status = h("div", { "aria-live": "polite" }, ctx.message ? notice("error", ctx.message) : null);
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "signin", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      replace(status, notice("error", "Enter an API token."));
      input.focus();
      return;
    }
    submit.disabled = true;
    replace(status, h("p", { class: "muted" }, "Checking the token…"));
    try {
      const who = await api("/v1/whoami", { token });
      saveToken(token, who);
      ctx.afterSignIn();
    } catch (err) {
      const message = err.status === 401
        ? "This token is unknown or inactive. Check that you copied all of it, or ask an admin for a new one."
        : err.status === 403
          ? "This is a recorder token: it can submit data but not read it. Sign in with a viewer or an admin token."
          : err.message;
      replace(status, notice("error", message));
      input.select();
      input.focus();
    } finally {
      submit.disabled = false;
    }
  } },
  h("h1", {}, "Sign in to Vigil"),
  h("div", { class: "field" },
    h("label", { for: "token" }, "API token"),
    input,
    h("small", { id: "token-hint", class: "hint" },
      "An admin token can change everything; a viewer token sees everything read-only. ",
      "A new server prints its admin token when it starts (it is also in the data folder, file admin-token).")),
  submit, status);
  replace(ctx.main, h("div", { class: "signin-wrap" }, form));
  input.focus();
}
