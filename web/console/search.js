// Search playground: live results as you type, filters built from the collection's fields
// (facet counts for low-cardinality fields, min/max for numeric ones), sort, the request as a
// curl command and the server's timings.

import { get, call, curl, seg } from "./api.js";
import { h, clear, field, debounce, status, copyButton, errorText, fmtNum } from "./dom.js";

/** A field with at most this many distinct values in the sample is offered as checkboxes. */
const MAX_CHOICES = 12;
const SAMPLE = 100;
/** The search API's limit on facet fields per request. */
const MAX_FACETS = 10;

export async function render(root, ctx) {
  const { collections } = await get("/collections");
  root.append(h("h1", null, "Search"));
  if (!collections.length) {
    root.append(h("p", null, "This tenant has no collections yet. Upload records first."));
    return;
  }
  const collection = h("select#collection", { name: "collection" },
    collections.map((c) => h("option", { value: c.collection }, `${c.collection} (${fmtNum(c.record_count)})`)));
  const query = h("input#q", { type: "search", name: "q", autocomplete: "off", placeholder: "part number, name, description…", maxLength: 500 });
  const sort = h("select#sort", { name: "sort" });
  const mode = h("select#mode", { name: "mode" },
    [["auto", "auto: identifiers, words, then meaning"], ["keyword", "keyword only"],
      ["hybrid", "hybrid: words and meaning"], ["semantic", "meaning only"], ["identifier", "identifiers only"]]
      .map(([v, label]) => h("option", { value: v }, label)));
  const filters = h("div.filters", { role: "group", "aria-label": "Filters" });
  const info = status();
  const timings = h("p.timings.muted");
  const results = h("ol#results.results");
  const curlText = h("pre#curl.code");
  const form = h("form.search-bar", { role: "search", on: { submit: (e) => { e.preventDefault(); run(); } } },
    field("Collection", collection), field("Query", query), field("Sort", sort), field("Match", mode));
  root.append(form,
    h("div.search-layout", null,
      h("aside.filter-panel", null, h("h2", null, "Filters"), filters),
      h("section", { "aria-label": "Results" }, info, timings, results,
        h("details.request", null, h("summary", null, "Request as curl"), curlText,
          copyButton(() => curlText.textContent, curlText, "Copy curl")))));

  let facetFields = [];
  let numeric = [];
  const chosen = new Map(); // field → Map(value JSON → {input, count})
  const ranges = new Map(); // field → {min, max} inputs
  let seq = 0;

  async function loadFields() {
    clear(filters, h("p.muted", null, "Reading fields…"));
    chosen.clear();
    ranges.clear();
    const sample = await call("POST", `/search/${seg(collection.value)}`, { limit: SAMPLE });
    const seen = new Map();
    for (const r of sample.body.results) {
      for (const [k, v] of Object.entries(r.collection_data || {})) {
        if (!seen.has(k)) seen.set(k, { n: 0, nums: 0, values: new Set(), long: false });
        const s = seen.get(k);
        s.n++;
        if (typeof v === "number") s.nums++;
        if (typeof v === "string" && v.length > 60) s.long = true;
        if (typeof v !== "object") s.values.add(typeof v === "string" ? v.toLowerCase() : JSON.stringify(v));
      }
    }
    const entries = [...seen.entries()].sort((a, b) => b[1].n - a[1].n || a[0].localeCompare(b[0]));
    numeric = entries.filter(([, s]) => s.nums === s.n).map(([k]) => k);
    facetFields = entries
      .filter(([k, s]) => !numeric.includes(k) && !s.long && s.values.size <= MAX_CHOICES && (s.values.size < s.n || s.n <= 2))
      .map(([k]) => k)
      .slice(0, MAX_FACETS);
    clear(sort,
      h("option", { value: "" }, "Relevance"),
      h("option", { value: "name" }, "Name A–Z"),
      h("option", { value: "-name" }, "Name Z–A"),
      h("option", { value: "-updated_at" }, "Recently updated"),
      numeric.flatMap((k) => [h("option", { value: k }, `${k} ascending`), h("option", { value: "-" + k }, `${k} descending`)]));
    clear(filters);
    for (const f of facetFields) {
      const box = h("div.choices");
      chosen.set(f, { box, values: new Map() });
      filters.append(h("fieldset.facet", { dataset: { field: f } }, h("legend", null, f), box));
    }
    for (const f of numeric) {
      const min = h("input", { type: "number", step: "any", name: f + "_min", dataset: { field: f, bound: "min" }, on: { input: later } });
      const max = h("input", { type: "number", step: "any", name: f + "_max", dataset: { field: f, bound: "max" }, on: { input: later } });
      ranges.set(f, { min, max });
      filters.append(h("fieldset.range", null, h("legend", null, f), field("min", min), field("max", max)));
    }
    if (!facetFields.length && !numeric.length) filters.append(h("p.muted", null, "No filterable fields found."));
  }

  function body() {
    const b = { limit: 20 };
    if (query.value.trim()) b.query = query.value.trim();
    const f = {};
    for (const [name, { values }] of chosen) {
      const picked = [...values.entries()].filter(([, v]) => v.input.checked).map(([k]) => JSON.parse(k));
      if (picked.length) f[name + "_in"] = picked;
    }
    for (const [name, { min, max }] of ranges) {
      if (min.value !== "" && Number.isFinite(min.valueAsNumber)) f[name + "_min"] = min.valueAsNumber;
      if (max.value !== "" && Number.isFinite(max.valueAsNumber)) f[name + "_max"] = max.valueAsNumber;
    }
    if (Object.keys(f).length) b.filters = f;
    if (sort.value) b.sort = sort.value;
    if (mode.value !== "auto") b.mode = mode.value;
    if (facetFields.length) b.facets = facetFields;
    return b;
  }

  /** Adds checkboxes for values not seen before and refreshes every count. */
  function showFacets(facets) {
    for (const [name, group] of chosen) {
      const counts = new Map((facets && facets[name] || []).map((c) => [JSON.stringify(c.value), c.count]));
      for (const [k] of counts) {
        if (group.values.has(k)) continue;
        const input = h("input", { type: "checkbox", dataset: { field: name, value: JSON.parse(k) }, on: { change: run } });
        const count = h("span.count");
        group.values.set(k, { input, count });
        group.box.append(h("label.choice", null, input, " ", String(JSON.parse(k)), " ", count));
      }
      for (const [k, v] of group.values) v.count.textContent = `(${counts.get(k) || 0})`;
    }
  }

  async function run() {
    const mine = ++seq;
    const b = body();
    const path = `/search/${seg(collection.value)}`;
    curlText.textContent = curl("POST", path, b);
    info.textContent = "Searching…";
    try {
      const { body: r } = await call("POST", path, b);
      if (mine !== seq) return;
      showFacets(r.facets);
      const m = r.metadata;
      const shown = r.results.length;
      const fallback = m.zero_result_fallback_used ? ` · fallback: ${m.zero_result_fallback_used}` : "";
      info.textContent = `${shown} result${shown === 1 ? "" : "s"} shown of about ${fmtNum(m.total_estimate)} · ${m.search_mode} · ${m.query_type || "—"}${fallback}`;
      const t = m.timings || {};
      timings.textContent = `processing ${m.processing_time_ms} ms · search ${t.search_ms ?? "—"} ms · hydrate ${t.hydrate_ms ?? "—"} ms${t.embed_ms != null ? ` · embed ${t.embed_ms.toFixed(3)} ms` : ""}${m.cache_hit ? " · cache hit" : ""}`;
      clear(results, r.results.map((x) => result(x, ctx.principal)));
    } catch (e) {
      if (mine !== seq) return;
      info.textContent = errorText(e);
    }
  }
  const later = debounce(run, 250);

  query.addEventListener("input", later);
  sort.addEventListener("change", run);
  mode.addEventListener("change", run);
  collection.addEventListener("change", async () => {
    await loadFields().catch((e) => clear(filters, h("p.error", null, errorText(e))));
    run();
  });
  await loadFields().catch((e) => clear(filters, h("p.error", null, errorText(e))));
  run();
}

function result(x, principal) {
  const data = Object.entries(x.collection_data || {}).slice(0, 8);
  const name = principal.can("entities") ? h("a.name", { href: "#/records/" + encodeURIComponent(x.record_id) }, x.name) : h("span.name", null, x.name);
  return h("li.result", null,
    h("div.result-head", null, name, h("span.score", { title: "score" }, Number(x.score).toFixed(3))),
    h("div.muted", null, `${x.record_type}${x.source_type ? " · " + x.source_type : ""}`),
    data.length ? h("dl.kv", null, data.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, typeof v === "object" ? JSON.stringify(v) : String(v))])) : null);
}
