// Talking to the API as the signed-in user. The key lives in sessionStorage only (gone when the
// tab closes, never sent to another origin, never in a URL or cookie) and goes out as
// `Authorization: Bearer` from here; nothing else in the console touches it.

const STORE = "qanatix.console.session";

export const session = {
  /** {key, tenant} as signed in, or null. */
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(STORE) || "null");
      return s && (s.key || s.tenant) ? s : null;
    } catch {
      return null;
    }
  },
  set(s) {
    sessionStorage.setItem(STORE, JSON.stringify({ key: s.key || "", tenant: s.tenant || "" }));
  },
  clear() {
    sessionStorage.removeItem(STORE);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

function describe(status, body) {
  const d = body && body.detail;
  if (Array.isArray(d)) return d.map((x) => (x.loc ? x.loc.join(".") + ": " : "") + x.msg).join("; ");
  if (typeof d === "string") return `${d} (HTTP ${status})`;
  return `HTTP ${status}`;
}

/** Headers that authenticate a request; `opts.tenant` overrides the session's tenant. */
export function authHeaders(opts = {}) {
  const s = session.get() || {};
  const h = {};
  if (s.key) h["Authorization"] = "Bearer " + s.key;
  const tenant = opts.tenant === undefined ? s.tenant : opts.tenant;
  if (tenant) h["X-Tenant-Id"] = tenant;
  return h;
}

/** A JSON request under /api/v1; resolves to {body, headers, status}, throws ApiError. */
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: "application/json", ...authHeaders(opts) };
  const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1" + path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return { body: json, headers: res.headers, status: res.status };
}

export const get = (path, opts) => call("GET", path, undefined, opts).then((r) => r.body);

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}

export const seg = encodeURIComponent;

/** A curl command for the request with the key replaced by `$QANATIX_KEY`. */
export function curl(method, path, body) {
  const s = session.get() || {};
  const q = (v) => "'" + String(v).replace(/'/g, "'\\''") + "'";
  const parts = ["curl -s"];
  if (method !== "GET") parts.push("-X " + method);
  parts.push(q(location.origin + "/api/v1" + path));
  if (s.key) parts.push('-H "Authorization: Bearer $QANATIX_KEY"');
  if (s.tenant) parts.push("-H " + q("X-Tenant-Id: " + s.tenant));
  if (body !== undefined) {
    parts.push("-H 'Content-Type: application/json'");
    parts.push("-d " + q(JSON.stringify(body)));
  }
  return parts.join(" \\\n  ");
}

/**
 * Posts a file as multipart `file` with upload progress (fetch cannot report it).
 * Resolves to the parsed response; `onProgress(fraction)` is called as bytes go out.
 */
export function uploadFile(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1" + path);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body);
      } else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new Error("The upload failed (network error).")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
