// Caregivers: a person (a parent, a guardian) who may share and stop sharing parts of
// the record for the patient, until he ends it. The segment keys the caregiver needs
// are sealed to him in this page.

import { announce, busy, errorBox, field, fill, h } from "./dom.js";
import { explain, loadOrExplain } from "./errors.js";
import { sealToDelegate } from "./keyflows.js";
import { person, session } from "./session.js";
import { dayWords, listWords, personWords, segmentWords } from "./words.js";

export async function caregiversPage(main) {
  const delegations = await loadOrExplain(main, "Caregivers", async () => session.owner.delegations());
  if (delegations === undefined) return;
  const out = h("div", { id: "caregiver-result" });
  const fail = (exc) => fill(out, errorBox(...explain(exc)));
  const items = [];
  for (const d of delegations.filter((x) => x.active)) {
    const who = personWords(await person(d.delegate_user_id));
    const end = h("button", { type: "button", class: "danger", id: `end-${d.delegate_user_id}` }, `End ${who}'s role`);
    end.addEventListener("click", () => busy(end, async () => {
      await session.owner.endDelegation(d.delegate_user_id);
      announce("Caregiver removed");
      await caregiversPage(main);
    }, fail));
    items.push(h("li", { class: "card" }, h("p", {}, `${who} may manage who sees your ${listWords(d.segments.map(segmentWords))} (since ${dayWords(d.changed_at)}).`), end));
  }
  const who = field("Their user id", { type: "text", name: "delegate", autocomplete: "off" });
  const boxes = session.params.segments.map((s) => h("input", { type: "checkbox", name: "segment", value: s, id: `dg-${s}` }));
  const send = h("button", { type: "submit", id: "delegate" }, "Name as caregiver");
  const form = h("form", { onsubmit: (e) => {
    e.preventDefault();
    fill(out);
    busy(send, async () => {
      const segments = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!segments.length) throw new Error("Choose at least one part.");
      await sealToDelegate(who.control.value.trim(), segments);
      announce("Caregiver named");
      await caregiversPage(main);
    }, fail);
  } },
  h("h2", {}, "Name a caregiver"), who.el,
  h("fieldset", {}, h("legend", {}, "Parts they may manage"), boxes.map((b) => h("label", { class: "choice", for: b.id }, b, segmentWords(b.value)))),
  send);
  fill(main, h("h1", {}, "Caregivers"), out,
    items.length ? h("ul", { class: "plain" }, items) : h("p", {}, "Nobody manages your sharing for you."), form);
}
