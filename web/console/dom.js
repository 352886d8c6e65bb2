// Building DOM nodes without markup strings: every value becomes a text node or a property,
// so record data can never turn into markup (nothing in the console parses HTML strings).

/** h("tag.class#id", {attrs, on: {event: fn}}, ...children) */
export function h(spec, props, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
  if (!m) throw new Error("bad element spec " + spec);
  const el = document.createElement(m[1]);
  for (const part of m[2].match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (props && (typeof props !== "object" || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (k in el && !k.startsWith("aria") && k !== "role" && k !== "list") {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form control: label wraps text and the control, so the pair needs no ids. */
export function field(label, control, hint) {
  return h("label.field", null, h("span.label", null, label), control, hint ? h("span.hint", null, hint) : null);
}

/** A table from column headers and rows of cells (nodes or values). */
export function table(caption, headers, rows) {
  return h("div.table-wrap", null,
    h("table", null,
      caption ? h("caption", null, caption) : null,
      h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c)))))));
}

export function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

export function fmtTime(s) {
  if (!s) return "—";
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function fmtNum(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : n == null ? "—" : String(n);
}

/** Copies text, falling back to selecting it where the clipboard API is unavailable. */
export async function copy(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied.");
  } catch {
    if (node) {
      const r = document.createRange();
      r.selectNodeContents(node);
      const s = getSelection();
      s.removeAllRanges();
      s.addRange(r);
      toast("Selected: press Ctrl+C to copy.");
    }
  }
}

export function copyButton(getText, node, label = "Copy") {
  return h("button.small", { type: "button", on: { click: () => copy(getText(), node) } }, label);
}

export function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.textContent = ""), 4000);
}

/** A polite live region for results and errors of a page. */
export function status() {
  return h("p.status", { role: "status", "aria-live": "polite" });
}

export function errorText(e) {
  return e && e.message ? e.message : String(e);
}
