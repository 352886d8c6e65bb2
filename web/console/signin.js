// Sign-in: an API key (or the master key), and a tenant where the key needs one.

import { session } from "./api.js";
import { h, field } from "./dom.js";

export function render(root, done, error) {
  const key = h("input", { type: "password", name: "key", autocomplete: "off", spellcheck: false, placeholder: "sk_live_…" });
  const tenant = h("input", { type: "text", name: "tenant", autocomplete: "off", spellcheck: false, pattern: "[A-Za-z0-9_\\-]{1,64}" });
  const msg = h("p.error", { role: "alert" }, error || "");
  const form = h("form.card.signin", {
    on: {
      submit: (e) => {
        e.preventDefault();
        if (!key.value.trim() && !tenant.value.trim()) {
          msg.textContent = "Enter an API key, or a tenant on a development-mode server.";
          return;
        }
        session.set({ key: key.value.trim(), tenant: tenant.value.trim() });
        key.value = "";
        done();
      },
    },
  },
    h("h1", null, "Sign in"),
    field("API key", key, "Kept in this tab's session storage only; sent as Authorization: Bearer."),
    field("Tenant (X-Tenant-Id)", tenant, "For the master key (optional: without one you see all tenants), or alone on a development-mode server."),
    msg,
    h("button.primary", { type: "submit" }, "Sign in"));
  root.append(form);
  queueMicrotask(() => key.focus());
}
