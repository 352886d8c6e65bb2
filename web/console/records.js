// Collections and records: browse with cursor paging (records dialect), open one record, edit
// it with a JSON merge patch, archive it.

import { get, call, qs, seg } from "./api.js";
import { h, clear, field, table, status, errorText, fmtTime, fmtNum } from "./dom.js";

export async function render(root, ctx) {
  if (ctx.args[0]) return detail(root, ctx.args[0]);
  return list(root);
}

/** The list's filters survive a visit to a record and back. */
const remembered = { collection: "", status: "active", record_type: "", q: "" };

async function list(root) {
  // Listing collections needs the search scope; without it the list offers all of them.
  const collections = await get("/collections").then((r) => r.collections, () => []);
  root.append(h("h1", null, "Records"));
  const collection = h("select#rec-collection", null, h("option", { value: "" }, "All collections"),
    collections.map((c) => h("option", { value: c.collection }, `${c.collection} (${fmtNum(c.record_count)})`)));
  collection.value = remembered.collection;
  const recordType = h("input", { type: "text", value: remembered.record_type, autocomplete: "off" });
  const state = h("select", null, ["active", "draft", "archived"].map((s) => h("option", { value: s }, s)));
  state.value = remembered.status;
  const q = h("input", { type: "search", value: remembered.q, autocomplete: "off" });
  const info = status();
  const out = h("div");
  const prev = h("button", { type: "button", disabled: true }, "← Previous");
  const next = h("button", { type: "button", disabled: true }, "Next →");
  const cursors = [null]; // cursor of each page seen, for going back
  let page = 0;

  root.append(
    h("form.toolbar", { on: { submit: (e) => { e.preventDefault(); cursors.length = 1; page = 0; load(); } } },
      field("Collection", collection), field("Record type", recordType), field("Status", state), field("Name contains", q),
      h("button.primary", { type: "submit" }, "Show")),
    info, out, h("div.pager", null, prev, next));

  async function load() {
    Object.assign(remembered, { collection: collection.value, record_type: recordType.value.trim(), status: state.value, q: q.value.trim() });
    info.textContent = "Loading…";
    try {
      const r = await get("/records" + qs({ ...remembered, limit: 20, cursor: cursors[page] }));
      if (r.cursor && r.has_more) cursors[page + 1] = r.cursor;
      prev.disabled = page === 0;
      next.disabled = !r.has_more;
      info.textContent = `Page ${page + 1}: ${r.records.length} record${r.records.length === 1 ? "" : "s"}${r.has_more ? ", more follow" : ""}.`;
      clear(out, table(null, ["Name", "Collection", "Type", "Status", "Updated"], r.records.map((x) => [
        h("a", { href: "#/records/" + encodeURIComponent(x.id) }, x.name), x.collection, x.record_type, x.status, fmtTime(x.updated_at),
      ])));
    } catch (e) {
      info.textContent = errorText(e);
    }
  }
  prev.addEventListener("click", () => { page = Math.max(0, page - 1); load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  for (const c of [collection, state]) c.addEventListener("change", () => { cursors.length = 1; page = 0; load(); });
  await load();
}

/** Fields a PATCH takes; shown as the starting patch so a user edits what is there. */
const EDITABLE = ["name", "description", "status", "visibility", "source_id", "source_url", "source_name", "data"];

async function detail(root, id) {
  const rec = await get("/records/" + seg(id));
  const heading = h("h1", null, rec.name);
  const view = h("pre.code#record-json");
  const info = status();
  const patch = h("textarea#patch", { rows: 14, spellcheck: false, "aria-describedby": "patch-hint" });
  const archive = h("button.danger#archive", { type: "button" }, "Archive");
  const confirm = h("button.danger#archive-confirm", { type: "button", hidden: true }, "Confirm: archive this record");

  function show(r) {
    heading.textContent = r.name;
    view.textContent = JSON.stringify(r, null, 2);
    const start = {};
    for (const k of EDITABLE) if (r[k] !== undefined && r[k] !== null) start[k] = r[k];
    patch.value = JSON.stringify(start, null, 2);
    archive.disabled = r.status === "archived";
  }
  show(rec);

  root.append(h("p", null, h("a", { href: "#/records" }, "← Records")), heading,
    h("div.two-col", null,
      h("section", null, h("h2", null, "Stored record"), view),
      h("section", null, h("h2", null, "Edit"),
        h("form", { on: { submit: save } },
          field("JSON merge patch (PATCH /records/{id})", patch),
          h("p.hint#patch-hint", null, "Top-level fields replace; data is merged: set a key to ", h("code", null, "null"), " to remove it."),
          h("button.primary", { type: "submit" }, "Save")),
        h("h2", null, "Archive"),
        h("p", null, "Archiving hides the record from search; it stays listable with status archived."),
        archive, " ", confirm)),
    info);

  async function save(e) {
    e.preventDefault();
    let body;
    try {
      body = JSON.parse(patch.value);
    } catch (err) {
      info.textContent = "The patch is not valid JSON: " + err.message;
      return;
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      info.textContent = "The patch must be a JSON object.";
      return;
    }
    try {
      const r = await call("PATCH", "/records/" + seg(id), body);
      show(r.body);
      info.textContent = "Saved.";
    } catch (err) {
      info.textContent = errorText(err);
    }
  }
  archive.addEventListener("click", () => { confirm.hidden = false; confirm.focus(); });
  confirm.addEventListener("click", async () => {
    confirm.hidden = true;
    try {
      const r = await call("DELETE", "/records/" + seg(id));
      show(r.body);
      info.textContent = "Archived.";
    } catch (err) {
      info.textContent = errorText(err);
    }
  });
}
