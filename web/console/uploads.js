// Uploads: drop (or pick) a CSV, JSON, NDJSON, XML or PDF file, watch it go up, then see the
// summary and the rejected rows (the upload's dead-letter queue).

import { get, uploadFile, seg } from "./api.js";
import { h, clear, field, table, status, errorText, fmtNum } from "./dom.js";

const ACCEPT = ".csv,.json,.ndjson,.jsonl,.xml,.pdf";
const NAME = /^[a-z0-9_-]{1,64}$/;

export async function render(root) {
  const collections = await get("/collections").then((r) => r.collections, () => []);
  const list = h("datalist#known-collections", null, collections.map((c) => h("option", { value: c.collection })));
  const collection = h("input#up-collection", { type: "text", required: true, autocomplete: "off", list: "known-collections", value: collections[0] ? collections[0].collection : "" });
  const recordType = h("input#up-type", { type: "text", required: true, autocomplete: "off", value: "item" });
  const input = h("input#up-file", { type: "file", accept: ACCEPT });
  const drop = h("div.dropzone#dropzone", { tabIndex: 0, role: "button", "aria-label": "Drop a file here or press Enter to choose one" },
    h("strong", null, "Drop a file here"), h("span.muted", null, "CSV, JSON, NDJSON, XML (BMEcat, IDoc) or PDF, up to 50 MB"));
  const progress = h("progress#up-progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const info = status();
  const out = h("div#up-result");

  root.append(h("h1", null, "Uploads"), list,
    h("form.toolbar", { on: { submit: (e) => e.preventDefault() } },
      field("Collection", collection, "a–z, 0–9, _ and -"), field("Record type", recordType), field("File", input)),
    drop, progress, info, out);

  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) send(f);
  });
  input.addEventListener("change", () => {
    if (input.files[0]) send(input.files[0]);
  });

  async function send(file) {
    const c = collection.value.trim().toLowerCase();
    const t = recordType.value.trim().toLowerCase();
    if (!NAME.test(c) || !NAME.test(t)) {
      info.textContent = "Collection and record type: 1–64 characters of a–z, 0–9, _ and -.";
      return;
    }
    const kind = file.name.toLowerCase().endsWith(".pdf") || file.type === "application/pdf" ? "pdf" : "file";
    progress.hidden = false;
    progress.value = 0;
    clear(out);
    info.textContent = `Uploading ${file.name} (${fmtNum(file.size)} bytes)…`;
    try {
      const r = await uploadFile(`/upload/${seg(c)}/${seg(t)}/${kind}`, file, (p) => {
        progress.value = p;
        if (p >= 1) info.textContent = `Processing ${file.name}…`;
      });
      info.textContent = `${file.name}: ${r.status}.`;
      await showResult(r);
    } catch (e) {
      info.textContent = `${file.name}: ${errorText(e)}`;
    } finally {
      input.value = "";
    }
  }

  async function showResult(r) {
    const s = r.summary || {};
    clear(out,
      h("h2", null, "Result"),
      h("dl.summary#up-summary", null,
        [["Upload", r.upload_id], ["Status", r.status], ["Submitted", s.submitted], ["Accepted", s.accepted],
          ["Rejected", s.rejected], ["Duplicates skipped", s.dedup_skipped],
          ["Processing", r.metadata ? r.metadata.processing_time_ms + " ms" : "—"]]
          .flatMap(([k, v]) => [h("dt", null, k), h("dd", { dataset: { key: k.toLowerCase() } }, v === undefined ? "—" : String(v))])));
    if (!s.rejected) return;
    const dlq = await get(`/uploads/${seg(r.upload_id)}/dlq`);
    out.append(h("h2", null, "Rejected rows"),
      h("div#dlq", null, table(`${dlq.entries.length} rejected`, ["Row", "Field", "Error", "Message", "Raw"],
        dlq.entries.map((e) => [e.row, e.field || "—", e.error_type, e.message, h("code", null, e.raw === undefined ? "" : typeof e.raw === "string" ? e.raw : JSON.stringify(e.raw))]))));
  }
}
