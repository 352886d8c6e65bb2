// Renders /openapi.json as a reference grouped by tag: each operation with its authentication,
// parameters, request body, responses (with their schemas and examples). Builds DOM nodes only
// (no innerHTML), so text from the document can never become markup.
"use strict";

(function () {
  const METHODS = ["get", "post", "put", "patch", "delete"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // Inline `code` spans in descriptions, as text nodes and <code> elements.
  function prose(text, tag) {
    const node = el(tag || "p", { class: "desc" });
    String(text || "").split(/(`[^`]*`)/).forEach((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
        node.append(el("code", {}, part.slice(1, -1)));
      } else {
        node.append(part);
      }
    });
    return node;
  }

  function resolve(doc, obj, depth) {
    if (!obj || typeof obj !== "object" || depth > 12) return obj;
    if (obj.$ref && obj.$ref.startsWith("#/")) {
      let target = doc;
      for (const key of obj.$ref.slice(2).split("/")) target = target && target[key];
      return resolve(doc, target, depth + 1);
    }
    return obj;
  }

  function typeName(doc, schema, depth) {
    depth = depth || 0;
    if (!schema) return "any";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (depth > 6) return "…";
    const alts = schema.oneOf || schema.anyOf;
    if (alts) return alts.map((s) => typeName(doc, s, depth + 1)).join(" | ");
    let t = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "any";
    if (schema.type === "array" || (Array.isArray(schema.type) && schema.type.includes("array"))) {
      t = t.replace("array", typeName(doc, schema.items, depth + 1) + "[]");
    }
    if (schema.format) t += " (" + schema.format + ")";
    return t;
  }

  // A schema as a table of its fields (one level; nested objects are named by type).
  function schemaTable(doc, schema) {
    const s = resolve(doc, schema, 0);
    if (!s || typeof s !== "object") return null;
    if (s.type === "array" || (Array.isArray(s.type) && s.type.includes("array"))) {
      const wrap = el("div", {}, el("p", { class: "desc" }, "An array of " + typeName(doc, s.items) + ":"));
      const inner = schemaTable(doc, s.items);
      if (inner) wrap.append(inner);
      return wrap;
    }
    const props = s.properties;
    if (!props) return el("p", { class: "desc" }, "Type: " + typeName(doc, s));
    const required = new Set(s.required || []);
    const rows = Object.keys(props).sort().map((name) => {
      const p = props[name];
      return el("tr", {},
        el("td", {}, el("code", {}, name), required.has(name) ? " *" : ""),
        el("td", {}, typeName(doc, p)),
        el("td", {}, p.description ? prose(p.description, "span") : ""));
    });
    return el("table", {}, el("tr", {}, el("th", {}, "Field (* required)"), el("th", {}, "Type"), el("th", {}, "Description")), ...rows);
  }

  function example(doc, media) {
    if (!media) return null;
    let ex = media.example;
    if (ex === undefined) {
      const s = resolve(doc, media.schema, 0);
      ex = s && (s.example !== undefined ? s.example : s.examples && s.examples[0]);
    }
    if (ex === undefined) return null;
    const text = typeof ex === "string" ? ex : JSON.stringify(ex, null, 2);
    return el("details", {}, el("summary", {}, "Example"), el("pre", {}, text));
  }

  function content(doc, body) {
    const wrap = el("div", {});
    for (const [type, media] of Object.entries(body.content || {})) {
      wrap.append(el("div", { class: "auth" }, el("code", {}, type)));
      const table = schemaTable(doc, media.schema);
      if (table) wrap.append(table);
      const ex = example(doc, media);
      if (ex) wrap.append(ex);
    }
    return wrap;
  }

  function auth(doc, op) {
    if (!op.security || op.security.length === 0) return el("p", { class: "auth" }, "No authentication.");
    const key = op.security.find((r) => r.api_key);
    const scopes = key && key.api_key.length ? key.api_key.map((s) => "`" + s + "`").join(", ") : "none (any valid key)";
    return prose("Authentication: `Authorization: Bearer sk_live_…` with scope " + scopes +
      "; or the master key with `X-Tenant-Id`; or, in development mode, `X-Tenant-Id` alone.", "p");
  }

  function operation(doc, path, method, op, id) {
    const section = el("section", { class: "op", id: id },
      el("div", { class: "sig" }, el("span", { class: "method m-" + method }, method.toUpperCase()), path),
      el("p", { class: "summary" }, op.summary || ""));
    if (op.description) section.append(prose(op.description));
    section.append(auth(doc, op));
    const params = (op.parameters || []).map((p) => resolve(doc, p, 0));
    if (params.length) {
      section.append(el("h4", {}, "Parameters"));
      section.append(el("table", {},
        el("tr", {}, el("th", {}, "Name"), el("th", {}, "In"), el("th", {}, "Type"), el("th", {}, "Description")),
        ...params.map((p) => el("tr", {},
          el("td", {}, el("code", {}, p.name), p.required ? " *" : ""),
          el("td", {}, p.in),
          el("td", {}, typeName(doc, p.schema)),
          el("td", {}, p.description ? prose(p.description, "span") : "")))));
    }
    if (op.requestBody) {
      section.append(el("h4", {}, "Request body"));
      const body = resolve(doc, op.requestBody, 0);
      if (body.description) section.append(prose(body.description));
      section.append(content(doc, body));
    }
    section.append(el("h4", {}, "Responses"));
    const statuses = Object.keys(op.responses || {}).sort();
    for (const status of statuses) {
      const res = resolve(doc, op.responses[status], 0);
      const line = el("div", {}, el("span", { class: "status s" + status[0] }, status), " ", prose(res.description, "span"));
      section.append(line);
      if (res.content && status[0] === "2") section.append(content(doc, res));
      else if (res.content) {
        const ex = example(doc, Object.values(res.content)[0]);
        if (ex) section.append(ex);
      }
    }
    return section;
  }

  function render(doc) {
    const nav = document.getElementById("nav");
    const main = document.getElementById("content");
    nav.replaceChildren();
    main.replaceChildren();
    if (doc.info) {
      document.title = doc.info.title + " " + doc.info.version;
      main.append(el("p", {}, el("strong", {}, doc.info.title + " " + doc.info.version)));
      if (doc.info.description) main.append(prose(doc.info.description));
    }
    const tags = (doc.tags || []).map((t) => t.name);
    const byTag = new Map(tags.map((t) => [t, []]));
    for (const path of Object.keys(doc.paths || {}).sort()) {
      for (const method of METHODS) {
        const op = doc.paths[path][method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || "other";
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([path, method, op]);
      }
    }
    let n = 0;
    for (const [tag, ops] of byTag) {
      if (!ops.length) continue;
      const info = (doc.tags || []).find((t) => t.name === tag);
      nav.append(el("h2", {}, tag));
      main.append(el("h2", { class: "tag", id: "tag-" + tag }, tag));
      if (info && info.description) main.append(prose(info.description));
      for (const [path, method, op] of ops) {
        const id = "op-" + (n++);
        // The prefix every tenant route shares would push what tells them apart out of sight.
        const short = path.startsWith("/api/v1/") ? path.slice(7) : path;
        nav.append(el("a", { href: "#" + id, title: method.toUpperCase() + " " + path + ": " + (op.summary || "") }, method.toUpperCase() + " " + short));
        main.append(operation(doc, path, method, op, id));
      }
    }
    if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
  }

  fetch("/openapi.json", { headers: { Accept: "application/json" } })
    .then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    })
    .then(render)
    .catch((e) => {
      document.getElementById("nav").replaceChildren(el("p", { class: "error" }, "Could not load /openapi.json: " + e.message));
    });
})();
