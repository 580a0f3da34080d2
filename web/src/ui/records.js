// The patient's records: each with its segments (what, how big, when, written by whom).

import { errorBox, fill, h } from "./dom.js";
import { loadOrExplain } from "./errors.js";
import { organisation, person, session } from "./session.js";
import { dayWords, segmentWords, sizeWords } from "./words.js";

/** "you" for the patient himself, else the author's name and organisation. */
export async function authorWords(userId) {
  if (userId === session.userId) return "you";
  const who = await person(userId);
  const org = await organisation(who?.organisation_id);
  const name = who?.display_name ?? userId;
  return org ? `${name}, ${org}` : name;
}

export async function recordsPage(main) {
  const records = await loadOrExplain(main, "My records", async () => session.owner.records());
  if (records === undefined) return;
  const cards = [];
  for (const r of records) {
    const total = r.segments.reduce((n, s) => n + s.size, 0);
    const author = await authorWords(r.uploaded_by);
    cards.push(h("li", { class: "card record", "data-record": r.record_id },
      h("h3", {}, h("a", { href: `#/record/${encodeURIComponent(r.record_id)}` }, `Record of ${dayWords(r.committed_at ?? r.created_at)}`)),
      h("p", {}, `Added by ${author} · ${sizeWords(total)} · ${r.segments.length} part${r.segments.length === 1 ? "" : "s"}`),
      h("div", { class: "tablewrap", tabindex: "0", role: "region", "aria-label": "What this record holds" }, h("table", {},
        h("caption", { class: "hint" }, "What this record holds"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Part"), h("th", { scope: "col" }, "Entries"), h("th", { scope: "col" }, "Size"), h("th", { scope: "col" }, "Key version"))),
        h("tbody", {}, r.segments.map((s) => h("tr", {},
          h("th", { scope: "row" }, segmentWords(s.name)), h("td", {}, s.resource_count), h("td", {}, sizeWords(s.size)), h("td", {}, s.key_version))))))));
  }
  const welcome = session.welcome;
  session.welcome = null;
  fill(main, h("h1", {}, "My records"), welcome,
    records.length ? h("ul", { class: "plain", id: "records" }, cards)
      : h("p", { id: "no-records" }, "You have no records yet. ", h("a", { href: "#/upload" }, "Add one"), "."),
  );
}
