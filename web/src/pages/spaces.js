// The list of spaces: open, create, rename, delete (the last three for admin tokens only).

import { api, listAll, session } from "../api.js";
import { button, confirmDialog, h, notice, replace, toast } from "../dom.js";

export async function render(ctx) {
  const list = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Loading spaces…"));
  const filter = h("input", { type: "search", id: "space-filter", placeholder: "Filter by name",
    "aria-label": "Filter spaces by name", oninput: () => show() });
  let spaces = [];

  const createStatus = h("div", { class: "inline-error", "aria-live": "polite" });
  const nameInput = h("input", { id: "new-space-name", name: "name", required: true, maxlength: 255 });
  const createForm = session.canEdit ? h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    replace(createStatus);
    try {
      const created = await api("/v1/spaces", { method: "POST", body: { name: nameInput.value.trim() } });
      toast(`Space ${created.name} created`);
      ctx.navigate(`spaces/${created.id}`);
    } catch (err) {
      replace(createStatus, err.message);
      nameInput.focus();
    }
  } }, h("label", { for: "new-space-name" }, "New space"), nameInput,
  h("button", { type: "submit", class: "primary" }, "Create"), createStatus) : null;

  replace(ctx.main,
    h("div", { class: "page-head" }, h("h1", {}, "Spaces"), filter),
    createForm, list);

  async function load() {
    spaces = await listAll("/v1/spaces", "spaces", {}, 1000);
    show();
  }

  function show() {
    const needle = filter.value.trim().toLowerCase();
    const shown = spaces.filter((s) => s.name.toLowerCase().includes(needle));
    if (!spaces.length) {
      replace(list, notice("info", "There are no spaces yet. ",
        session.canEdit ? "Create the first one with the form above." : "An admin can create them."));
      return;
    }
    if (!shown.length) {
      replace(list, notice("info", `No space name contains “${filter.value}”.`));
      return;
    }
    replace(list, h("ul", { class: "cards", id: "space-list" }, shown.map((s) => spaceItem(s))));
  }

  function spaceItem(s) {
    const item = h("li", { class: "card space-item", dataset: { id: s.id } });
    const view = () => replace(item,
      h("a", { href: `#/spaces/${s.id}`, class: "space-link" }, s.name),
      session.canEdit ? h("div", { class: "actions" },
        button("Rename", rename, { "aria-label": `Rename ${s.name}` }),
        button("Delete", remove, { class: "danger", "aria-label": `Delete ${s.name}` })) : null);
    const rename = () => {
      const input = h("input", { value: s.name, "aria-label": `New name for ${s.name}`, maxlength: 255 });
      const error = h("div", { class: "inline-error", "aria-live": "polite" });
      replace(item, h("form", { class: "inline-form", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api(`/v1/spaces/${s.id}`, { method: "PUT", body: { name: input.value.trim() } });
          s.name = input.value.trim();
          view();
          item.querySelector("a").focus();
        } catch (err) {
          replace(error, err.message);
        }
      } }, input, h("button", { type: "submit", class: "primary" }, "Save"), button("Cancel", view), error));
      input.focus();
      input.select();
    };
    const remove = async () => {
      if (!(await confirmDialog(`Delete the space ${s.name} and all its charts?`))) return;
      try {
        await api(`/v1/spaces/${s.id}`, { method: "DELETE" });
        spaces = spaces.filter((x) => x.id !== s.id);
        toast(`Space ${s.name} deleted`);
        show();
      } catch (err) {
        toast(err.message, "error");
      }
    };
    view();
    return item;
  }

  try {
    await load();
  } catch (err) {
    replace(list, notice("error", `The spaces could not be loaded: ${err.message}`));
  }
}
