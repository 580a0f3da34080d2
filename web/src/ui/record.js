// One record, decrypted in the page: a readable summary (problems, medicines, allergies,
// lab values as a table and a chart) and the raw FHIR JSON.

import { errorBox, fill, h } from "./dom.js";
import { explain } from "./errors.js";
import { lineChart } from "./chart.js";
import { need } from "./need.js";
import { session } from "./session.js";
import { chartSeries, resourcesOf, summarise } from "./summary.js";
import { dayWords, segmentWords } from "./words.js";

function table(caption, heads, rows, id) {
  // a region that scrolls on a phone: reachable by keyboard and named for screen readers
  return h("div", { class: "tablewrap", tabindex: "0", role: "region", "aria-label": caption }, h("table", { id },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

function section(title, id, items, render, empty) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title),
    items.length ? render(items) : h("p", { class: "hint" }, empty));
}

/** The record's manifest verified and each segment's ciphertext opened in the page:
 * {detail, opened: {bundle, payloads}}. */
export async function openOwnRecord(recordId) {
  const detail = await session.owner.record(recordId);
  const ciphertexts = {};
  for (const s of detail.segments) ciphertexts[s.name] = await session.owner.segment(recordId, s.name);
  const opened = await need("decryptOwnRecord")(session.material, detail.signed_manifest, ciphertexts, {
    expectedAuthor: null,
  });
  return { detail, opened };
}

export async function recordPage(main, recordId) {
  let detail, opened;
  try {
    ({ detail, opened } = await openOwnRecord(recordId));
  } catch (exc) {
    fill(main, h("h1", {}, "My record"), errorBox(...explain(exc)));
    return;
  }
  const all = resourcesOf(opened.bundle);
  const s = summarise(all);
  const series = chartSeries(s.labs);
  fill(main,
    h("h1", {}, `Record of ${dayWords(detail.committed_at ?? detail.created_at)}`),
    h("p", { class: "hint" }, `Opened and checked in this browser: ${Object.keys(opened.payloads).map(segmentWords).join(", ")}.`),
    section("Health problems", "problems", s.problems, (xs) => h("ul", { id: "problem-list" }, xs.map((p) => h("li", {}, p.name, p.since ? ` (since ${dayWords(p.since)})` : "", p.status && p.status !== "unnamed" ? ` · ${p.status}` : ""))), "No health problems recorded."),
    section("Medicines", "medicines", s.medications, (xs) => h("ul", { id: "medication-list" }, xs.map((m) => h("li", {}, m.name, m.dosage ? ` · ${m.dosage}` : "", m.status ? ` · ${m.status}` : ""))), "No medicines recorded."),
    section("Allergies", "allergies", s.allergies, (xs) => h("ul", { id: "allergy-list" }, xs.map((a) => h("li", {}, a.name, a.reaction ? ` · ${a.reaction}` : "", a.criticality ? ` · ${a.criticality} risk` : ""))), "No allergies recorded."),
    section("Lab results", "labs", s.labs, (xs) => h("div", {},
      series ? lineChart(series) : null,
      table("Lab values", ["Date", "Test", "Value"], xs.map((l) => [dayWords(l.time), l.name, `${l.value} ${l.unit}`.trim()]), "lab-table")), "No lab results recorded."),
    h("details", { id: "raw" }, h("summary", {}, "Show the raw data (FHIR JSON)"),
      h("pre", { tabindex: "0", id: "raw-json", "aria-label": "The record as FHIR JSON" }, JSON.stringify(opened.bundle, null, 2))));
}
