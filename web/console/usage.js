// This month's usage against the plan's limits, from GET /usage (and stored records from
// GET /admin/stats).

import { get } from "./api.js";
import { h, fmtNum } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

export async function render(root) {
  const [u, stats] = await Promise.all([get("/usage"), get("/admin/stats").catch(() => null)]);
  const l = u.limits || {};
  root.append(h("h1", null, "Usage"),
    h("p", null, `Tenant ${u.tenant_id} · plan ${u.plan} · period ${u.period} (UTC calendar month)`));
  if (u.metering_enabled === false) root.append(h("p.notice", null, "Metering is disabled on this server: counts stay at zero."));
  const rows = [
    ["requests", "API requests", u.usage.requests, null],
    ["searches", "Searches", u.usage.searches, l.max_searches_per_month],
    ["ingested_records", "Ingested records", u.usage.ingested_records, l.max_ingested_records_per_month],
    ["entities_created", "Records created", u.usage.entities_created, null],
  ];
  if (stats) rows.push(["stored", "Stored records (now)", stats.total_entities, l.max_entities]);
  root.append(h("div.meters#usage", null, rows.map(([id, label, value, limit]) => meter(id, label, value, limit))));
  root.append(h("h2", null, "This month at a glance"), chart(rows));
  root.append(h("h2", null, "Rate limits"),
    h("p", null, `General: ${fmtNum(l.general_rpm)} requests per minute · search: ${fmtNum(l.search_rpm)} per minute` +
      (l.max_verticals != null ? ` · at most ${fmtNum(l.max_verticals)} collections` : "")));
}

function meter(id, label, value, limit) {
  const capped = typeof limit === "number";
  const bar = h("meter", { min: 0, max: capped ? Math.max(limit, 1) : 1, value: capped ? Math.min(value, limit) : 0,
    high: capped ? limit * 0.8 : undefined, optimum: 0, "aria-label": label });
  return h("div.meter-row", { dataset: { counter: id } },
    h("span.meter-label", null, label),
    capped ? bar : h("span.meter-none.muted", null, "no monthly limit"),
    h("span.meter-value", null, h("span.value", null, fmtNum(value)), capped ? ` / ${fmtNum(limit)}` : ""));
}

/**
 * The month's counters as a small bar chart (inline SVG, sized by viewBox so it scales). The
 * API reports month totals only, so this is per counter, not per day.
 */
function chart(rows) {
  const w = 320, bh = 18, gap = 8, left = 130;
  const max = Math.max(1, ...rows.map((r) => r[2]));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${rows.length * (bh + gap)}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", rows.map((r) => `${r[1]}: ${r[2]}`).join(", "));
  rows.forEach(([, label, value], i) => {
    const y = i * (bh + gap);
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", 0);
    t.setAttribute("y", y + bh - 5);
    t.textContent = label;
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("x", left);
    r.setAttribute("y", y);
    r.setAttribute("height", bh);
    r.setAttribute("width", Math.max(1, ((w - left - 50) * value) / max));
    const n = document.createElementNS(SVG, "text");
    n.setAttribute("x", left + Math.max(1, ((w - left - 50) * value) / max) + 4);
    n.setAttribute("y", y + bh - 5);
    n.textContent = fmtNum(value);
    svg.append(t, r, n);
  });
  return svg;
}
