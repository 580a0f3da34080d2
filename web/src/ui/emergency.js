// Emergencies: which parts of the record a break-glass access may open (the patient
// chooses in advance; every such access is recorded and shown to him).

import { announce, busy, errorBox, fill, h } from "./dom.js";
import { explain, loadOrExplain } from "./errors.js";
import { share } from "./grant.js";
import { need } from "./need.js";
import { session } from "./session.js";
import { listWords, segmentWords } from "./words.js";

/** Who break-glass may serve: the KGC groups of every doctor and every nurse. */
const EMERGENCY_GROUPS = [{ role: "doctor" }, { role: "nurse" }];

/** As `phr emergency-segments`: the choice saved, the old emergency grants revoked, new
 * ones made to the doctors' and nurses' groups (the key servers then demand a reason). */
export async function setEmergencySegments(segments) {
  need("makeKeyGrants");
  const answer = await session.owner.setEmergency(segments);
  for (const g of await session.owner.grants()) {
    if (g.emergency && g.status === "active") await session.owner.revoke(g.grant_id);
  }
  if (segments.length) {
    for (const selector of EMERGENCY_GROUPS) {
      const group = await session.kgc.createGroup(selector);
      await share({ group, segments, notBefore: null, expiresAt: null, purpose: "emergency", emergency: true });
    }
  }
  return answer;
}

export async function emergencyPage(main) {
  const current = await loadOrExplain(main, "Emergencies", async () => (await session.owner.emergency()).segments);
  if (current === undefined) return;
  const out = h("div", { id: "emergency-result" });
  const boxes = session.params.segments.map((s) => h("input", { type: "checkbox", name: "segment", value: s, checked: current.includes(s), id: `em-${s}` }));
  const save = h("button", { type: "submit", id: "save-emergency" }, "Save");
  const summary = (segs) => segs.length
    ? `In an emergency, a doctor may open your ${listWords(segs.map(segmentWords))}. You will see every such access.`
    : "Nobody can open your record in an emergency.";
  const said = h("p", { id: "emergency-summary" }, summary(current));
  const form = h("form", { onsubmit: (e) => {
    e.preventDefault();
    busy(save, async () => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      const answer = await setEmergencySegments(chosen);
      fill(said, summary(answer.segments));
      fill(out, h("p", { class: "notice", role: "status" }, "Saved."));
      announce("Emergency settings saved");
    }, (exc) => fill(out, errorBox(...explain(exc))));
  } },
  h("fieldset", {}, h("legend", {}, "Parts an emergency may open"),
    boxes.map((b) => h("label", { class: "choice", for: b.id }, b, segmentWords(b.value)))),
  save);
  fill(main, h("h1", {}, "Emergencies"), said, form, out);
}
