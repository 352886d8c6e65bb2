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
  root.append(h("h2", null, "Requests per day"), daily(u.daily || []));
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
 * Requests per day of the month so far as a small column chart (inline SVG, sized by viewBox
 * so it scales), searches drawn inside each column. The numbers are in the title of each
 * column and, for screen readers, in the chart's label.
 */
function daily(days) {
  const w = 320, hgt = 120, base = 104;
  const max = Math.max(1, ...days.map((d) => d.requests));
  const col = days.length ? w / days.length : w;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("id", "daily");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", days.map((d) => `${d.date}: ${d.requests} requests, ${d.searches} searches`).join("; ") || "no days yet");
  days.forEach((d, i) => {
    const x = i * col + 1;
    const bar = (value, cls) => {
      const r = document.createElementNS(SVG, "rect");
      const height = (value / max) * (base - 4);
      r.setAttribute("x", x);
      r.setAttribute("y", base - height);
      r.setAttribute("width", Math.max(1, col - 2));
      r.setAttribute("height", height);
      r.setAttribute("class", cls);
      return r;
    };
    const g = document.createElementNS(SVG, "g");
    g.dataset.date = d.date;
    g.dataset.requests = d.requests;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${d.date}: ${fmtNum(d.requests)} requests, ${fmtNum(d.searches)} searches`;
    g.append(title, bar(d.requests, "requests"), bar(d.searches, "searches"));
    if (i === 0 || i === days.length - 1) {
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", i === 0 ? 0 : w);
      t.setAttribute("y", hgt - 2);
      t.setAttribute("text-anchor", i === 0 ? "start" : "end");
      t.textContent = d.date.slice(5);
      g.append(t);
    }
    svg.append(g);
  });
  return svg;
}
