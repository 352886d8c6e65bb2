// The operator's view (master key): every tenant with its plan and counts, and acting as one.

import { get, session } from "./api.js";
import { h, clear, table, status, errorText, fmtNum, fmtTime } from "./dom.js";

export async function render(root, ctx) {
  const [tenants, stats] = await Promise.all([get("/admin/tenants", { tenant: "" }), get("/admin/stats", { tenant: "" })]);
  const info = status();
  const detail = h("div#tenant-stats");
  const acting = ctx.principal.tenant;
  root.append(h("h1", null, "Tenants"));
  if (acting) {
    root.append(h("p", null, `Acting as ${acting}. `,
      h("button.small#all-tenants", { type: "button", on: { click: () => actAs("") } }, "Back to all tenants")));
  }
  root.append(
    h("dl.summary#all-stats", null,
      [["Tenants", tenants.length], ["Records", stats.total_entities], ["Active", stats.entities_by_status.active],
        ["Archived", stats.entities_by_status.archived], ["Draft", stats.entities_by_status.draft],
        ["Index pending", stats.embedding_status.pending], ["Index failed", stats.embedding_status.failed],
        ["Queue depth", stats.queue_depth]]
        .flatMap(([k, v]) => [h("dt", null, k), h("dd", null, fmtNum(v))])),
    info,
    table(`${tenants.length} tenant${tenants.length === 1 ? "" : "s"}`,
      ["Tenant", "Name", "Plan", "Status", "Records", "Collections", "Created", "Actions"],
      tenants.map((t) => [
        t.tenant_id, t.name || "—", t.plan, t.status, fmtNum(t.entity_count),
        Array.isArray(t.verticals) ? t.verticals.join(", ") || "—" : fmtNum(t.verticals), fmtTime(t.created_at),
        h("span.actions", null,
          h("button.small", { type: "button", on: { click: () => showStats(t.tenant_id) } }, "Stats"), " ",
          h("button.small", { type: "button", on: { click: () => actAs(t.tenant_id) } }, "Act as")),
      ])),
    detail);

  async function showStats(id) {
    try {
      const [s, u] = await Promise.all([get("/admin/stats", { tenant: id }), get("/usage", { tenant: id })]);
      clear(detail, h("h2", null, `Tenant ${id}`),
        h("dl.summary", null,
          [["Plan", u.plan], ["Records", fmtNum(s.total_entities)], ["Requests this month", fmtNum(u.usage.requests)],
            ["Searches this month", fmtNum(u.usage.searches)], ["Ingested this month", fmtNum(u.usage.ingested_records)],
            ["Index pending", fmtNum(s.embedding_status.pending)]]
            .flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)])));
      detail.querySelector("h2").tabIndex = -1;
      detail.querySelector("h2").focus();
    } catch (e) {
      info.textContent = errorText(e);
    }
  }

  function actAs(id) {
    const s = session.get();
    session.set({ key: s.key, tenant: id });
    location.hash = "";
    ctx.reload();
  }
}
