// Add a record: a FHIR R4 Bundle checked, split into parts and encrypted in this page,
// then each part's ciphertext sent straight to storage (presigned URLs), with progress.

import { announce, busy, errorBox, field, fill, h } from "./dom.js";
import { explain } from "./errors.js";
import { putPresigned } from "../api/http.js";
import { need } from "./need.js";
import { session } from "./session.js";
import { segmentWords, sizeWords } from "./words.js";

function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Encrypt `bundle` in the page (to the patient's own segment keys) and upload it. */
export async function sendRecord(bundle, onStep) {
  onStep("Checking and encrypting in your browser…", 0);
  const versions = (await session.owner.keys()).versions ?? {};
  const encrypted = await need("encryptRecord")(bundle, session.material, {
    patientId: session.userId,
    recordId: randomId("r_"),
    recipients: need("ownerRecipients")(session.material, versions),
    onProgress: ({ segment }) => onStep(`Encrypting your ${segmentWords(segment)}…`, 0),
  });
  const parts = Object.entries(encrypted.segments);
  const begun = await session.owner.beginUpload({
    upload_id: randomId("up_"),
    signed_manifest: encrypted.signed_manifest,
    tags: Object.fromEntries(parts.map(([name, seg]) => [name, seg.tags])),
  });
  const todo = Object.entries(begun.urls ?? {});
  const ciphertexts = Object.fromEntries(parts.map(([name, seg]) => [name, seg.ciphertext]));
  const total = todo.reduce((n, [name]) => n + ciphertexts[name].length, 0) || 1;
  let done = 0;
  for (const [name, put] of todo) {
    const bytes = ciphertexts[name];
    await putPresigned(put.url, put.headers, bytes, (sent) => {
      onStep(`Sending your ${segmentWords(name)} (${sizeWords(sent)} of ${sizeWords(bytes.length)})`, (done + sent) / total);
    });
    done += bytes.length;
  }
  onStep("Saving…", 1);
  return session.owner.commitUpload(begun.upload_id);
}

export async function uploadPage(main) {
  const file = field("FHIR Bundle (JSON)", { type: "file", name: "bundle", accept: ".json,application/fhir+json,application/json", required: true },
    "A file from your hospital or a health app. It is encrypted here before it leaves your browser.");
  const bar = h("progress", { max: "100", value: "0", id: "upload-progress", "aria-label": "Upload progress", hidden: true });
  const step = h("p", { id: "upload-step", "aria-live": "polite" });
  const out = h("div", { id: "upload-result" });
  const send = h("button", { type: "submit", id: "upload" }, "Encrypt and upload");
  const form = h("form", { onsubmit: (e) => {
    e.preventDefault();
    fill(out);
    busy(send, async () => {
      const chosen = file.control.files?.[0];
      if (!chosen) throw new Error("Choose a file first.");
      let bundle;
      try {
        bundle = JSON.parse(await chosen.text());
      } catch {
        const err = new Error("This file is not JSON.");
        err.name = "BundleInvalid";
        throw err;
      }
      bar.hidden = false;
      const record = await sendRecord(bundle, (words, fraction) => {
        step.textContent = words;
        bar.value = Math.round(fraction * 100);
      });
      step.textContent = "";
      fill(out, h("p", { class: "notice", role: "status", id: "upload-done" },
        `Saved: ${record.segments.length} parts (${record.segments.map((s) => segmentWords(s.name)).join(", ")}). `,
        h("a", { href: `#/record/${encodeURIComponent(record.record_id)}` }, "Read it")));
      announce("Record uploaded");
    }, (exc) => {
      bar.hidden = true;
      step.textContent = "";
      fill(out, errorBox(...explain(exc)));
    });
  } }, file.el, send, bar, step);
  fill(main, h("h1", {}, "Add a record"), form, out);
  file.control.focus();
}
