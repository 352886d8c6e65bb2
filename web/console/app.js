// The console's shell: who is signed in, which pages their key may use, and hash routing.

import { session, call, ApiError } from "./api.js";
import { h, clear, errorText } from "./dom.js";

/** Pages in navigation order; `allowed(p)` decides from the principal. */
const PAGES = [
  { id: "search", title: "Search", module: "./search.js", allowed: (p) => p.tenant && p.can("search") },
  { id: "records", title: "Records", module: "./records.js", allowed: (p) => p.tenant && p.can("entities") },
  { id: "uploads", title: "Uploads", module: "./uploads.js", allowed: (p) => p.tenant && p.can("ingest") },
  { id: "keys", title: "Keys", module: "./keys.js", allowed: (p) => p.tenant && p.can("admin") },
  { id: "usage", title: "Usage", module: "./usage.js", allowed: (p) => p.tenant && p.can("admin") },
  { id: "tenants", title: "Tenants", module: "./tenants.js", allowed: (p) => p.master },
];

let principal = null;
const main = document.getElementById("main");

/** Who the session acts as, from `GET /auth/me`. */
async function whoami() {
  const s = session.get();
  if (!s) return null;
  try {
    const r = await call("GET", "/auth/me");
    const me = r.body;
    const dev = r.headers.get("X-Auth-Mode") === "development";
    return makePrincipal({
      tenant: me.tenant_id,
      scopes: me.scopes,
      plan: me.plan,
      keyName: me.name,
      dev,
      master: !dev && me.key_id === null,
    });
  } catch (e) {
    // Only the master key acts without a tenant; /auth/me asks it to name one.
    if (e instanceof ApiError && e.status === 400 && s.key && !s.tenant) {
      return makePrincipal({ tenant: null, scopes: ["admin"], master: true });
    }
    throw e;
  }
}

function makePrincipal(p) {
  const scopes = new Set(p.scopes.map((s) => (s === "upload" ? "ingest" : s)));
  return { ...p, can: (scope) => scopes.has("admin") || scopes.has(scope) };
}

function renderChrome() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!principal) {
    nav.hidden = true;
    who.hidden = true;
    return;
  }
  const pages = PAGES.filter((p) => p.allowed(principal));
  clear(nav, h("ul", null, pages.map((p) => h("li", null, h("a", { href: "#/" + p.id, dataset: { page: p.id } }, p.title)))));
  nav.hidden = false;
  const kind = principal.master ? "master key" : principal.dev ? "development mode" : principal.keyName || "API key";
  document.getElementById("who-text").textContent =
    (principal.tenant ? principal.tenant + (principal.plan ? ` (${principal.plan})` : "") : "all tenants") + " · " + kind;
  who.hidden = false;
}

async function route() {
  const [page, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (!principal) {
    const { render } = await import("./signin.js");
    return show("Sign in", (root) => render(root, signedIn));
  }
  const pages = PAGES.filter((p) => p.allowed(principal));
  const target = pages.find((p) => p.id === page);
  if (!target) {
    if (pages.length === 0) {
      return show("No pages", (root) =>
        root.append(h("h1", { tabIndex: -1 }, "Nothing to show"), h("p", null, "This key has no scope the console uses.")));
    }
    location.replace("#/" + pages[0].id);
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === target.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const mod = await import(target.module);
  await show(target.title, (root) => mod.render(root, { principal, args: rest.map(decodeURIComponent), reload: signedIn }));
}

let generation = 0;

/** Replaces the page; a page rendered for an older route is dropped. */
async function show(title, build) {
  const mine = ++generation;
  const root = h("div.page");
  document.title = title + " · QANATIX console";
  try {
    await build(root);
  } catch (e) {
    root.append(h("p.error", { role: "alert" }, errorText(e)));
  }
  if (mine !== generation) return;
  clear(main, root);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    if (document.activeElement === document.body || !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
  }
}

/** Called after sign-in or a change of tenant: re-reads who we are and shows the first page. */
async function signedIn() {
  try {
    principal = await whoami();
  } catch (e) {
    session.clear();
    principal = null;
    renderChrome();
    const { render } = await import("./signin.js");
    return show("Sign in", (root) => render(root, signedIn, errorText(e)));
  }
  renderChrome();
  await route();
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.clear();
  principal = null;
  renderChrome();
  location.hash = "";
  route();
});
// The skip link moves focus itself: following its #main would be taken for a page route.
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
signedIn();
