// API keys of the tenant: list, create (the value is shown once), rotate, revoke, expiry.

import { get, call, qs, seg } from "./api.js";
import { h, clear, field, table, status, copyButton, errorText, fmtTime } from "./dom.js";

const SCOPES = ["search", "ingest", "entities", "admin"];

export async function render(root) {
  const info = status();
  const secret = h("div#new-key");
  const listing = h("div#key-list");
  const expired = h("input", { type: "checkbox" });
  const name = h("input#key-name", { type: "text", required: true, maxLength: 100, autocomplete: "off" });
  const boxes = SCOPES.map((s) => h("input", { type: "checkbox", value: s, checked: s === "search", dataset: { scope: s } }));
  const expires = h("input#key-expires", { type: "datetime-local" });

  root.append(h("h1", null, "API keys"),
    h("form.card#key-create", { on: { submit: create } },
      h("h2", null, "Create a key"),
      field("Name", name),
      h("fieldset.scopes", null, h("legend", null, "Scopes (admin includes the others)"),
        boxes.map((b) => h("label.choice", null, b, " ", b.value))),
      field("Expires (optional, your local time)", expires),
      h("button.primary", { type: "submit" }, "Create key")),
    secret, info,
    h("div.toolbar", null, h("label.choice", null, expired, " Show expired keys")),
    listing);
  expired.addEventListener("change", load);

  /** The new value, once: it cannot be read back from the server. */
  function reveal(r, what) {
    const value = h("code.secret#new-key-value", null, r.key);
    clear(secret, h("div.card.notice", { role: "alert" },
      h("h2", null, `${what}: ${r.name}`),
      h("p", null, r.message || "Store this key securely — it cannot be retrieved again."),
      h("p.secret-row", null, value, " ", copyButton(() => r.key, value)),
      h("button.small", { type: "button", on: { click: () => clear(secret) } }, "I have stored it — hide")));
  }

  async function create(e) {
    e.preventDefault();
    const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!scopes.length) {
      info.textContent = "Pick at least one scope.";
      return;
    }
    const body = { name: name.value.trim(), scopes };
    if (expires.value) {
      const d = new Date(expires.value);
      if (isNaN(d)) {
        info.textContent = "The expiry is not a valid date.";
        return;
      }
      body.expires_at = d.toISOString().replace(/\.\d{3}Z$/, "Z");
    }
    try {
      const r = await call("POST", "/auth/keys", body);
      reveal(r.body, "New key");
      name.value = "";
      info.textContent = `Created key ${r.body.name}.`;
      await load();
    } catch (err) {
      info.textContent = errorText(err);
    }
  }

  async function rotate(k) {
    try {
      const r = await call("POST", `/auth/keys/${seg(k.id)}/rotate`);
      reveal(r.body, "Rotated key");
      info.textContent = `Rotated ${k.name}: the old value no longer works.`;
      await load();
    } catch (err) {
      info.textContent = errorText(err);
    }
  }

  async function revoke(k) {
    try {
      await call("DELETE", `/auth/keys/${seg(k.id)}`);
      info.textContent = `Revoked ${k.name} (${k.prefix}…).`;
      await load();
    } catch (err) {
      info.textContent = errorText(err);
    }
  }

  /** A revoke button asks once more before acting. */
  function revokeButton(k) {
    const b = h("button.small.danger", { type: "button", dataset: { action: "revoke", key: k.id } }, "Revoke");
    b.addEventListener("click", () => {
      if (b.dataset.armed) return revoke(k);
      b.dataset.armed = "1";
      b.textContent = "Confirm revoke";
    });
    b.addEventListener("blur", () => {
      delete b.dataset.armed;
      b.textContent = "Revoke";
    });
    return b;
  }

  async function load() {
    try {
      const keys = await get("/auth/keys" + qs({ include_expired: expired.checked ? "true" : "" }));
      const now = Date.now();
      clear(listing, table(`${keys.length} key${keys.length === 1 ? "" : "s"}`,
        ["Name", "Prefix", "Scopes", "Created", "Expires", "Last used", "Actions"],
        keys.map((k) => [
          k.name, h("code", null, k.prefix + "…"), k.scopes.join(", "), fmtTime(k.created_at),
          k.expires_at ? fmtTime(k.expires_at) + (Date.parse(k.expires_at) < now ? " (expired)" : "") : "never",
          fmtTime(k.last_used_at),
          h("span.actions", null,
            h("button.small", { type: "button", dataset: { action: "rotate", key: k.id }, on: { click: () => rotate(k) } }, "Rotate"),
            " ", revokeButton(k)),
        ])));
      for (const tr of listing.querySelectorAll("tbody tr")) tr.dataset.name = tr.firstChild.textContent;
    } catch (err) {
      clear(listing, h("p.error", null, errorText(err)));
    }
  }
  await load();
}
