// Who may see what: every grant in plain words ("Dr. Ada Lovelace, St. Mary's, can see
// your lab results until 30 June 2027, for: follow-up"), and revoking one (the keys of
// its parts rotated, older records optionally re-wrapped, as `phr revoke` does).

import { announce, busy, errorBox, fill, h } from "./dom.js";
import { explain, loadOrExplain } from "./errors.js";
import { rotateAfterRevoke } from "./keyflows.js";
import { organisation, person, session } from "./session.js";
import { dayWords, listWords, personWords, segmentWords } from "./words.js";

/** "Dr. Ada Lovelace, St. Mary's" or "every doctor at St. Mary's". */
export async function granteeWords(grant) {
  if (grant.grantee_user_id) {
    const who = await person(grant.grantee_user_id);
    const org = await organisation(who?.organisation_id);
    return org ? `${personWords(who)}, ${org}` : personWords(who);
  }
  const sel = grant.grantee_group ?? {};
  const org = await organisation(sel.org);
  const role = sel.role ? `every ${sel.role}` : "everyone";
  const dept = sel.dept ? ` in ${sel.dept}` : "";
  return `${role}${dept}${org ? ` at ${org}` : ""}`;
}

export async function grantSentence(grant) {
  const who = await granteeWords(grant);
  const what = listWords(grant.segments.map(segmentWords));
  const from = grant.not_before && new Date(grant.not_before) > new Date() ? ` from ${dayWords(grant.not_before)}` : "";
  const until = grant.expires_at ? ` until ${dayWords(grant.expires_at)}` : " with no end date";
  const why = grant.purpose ? `, for: ${grant.purpose}` : "";
  const verb = grant.status === "active" ? "can see" : "could see";
  return `${who} ${verb} your ${what}${from}${until}${why}.`;
}

function statusWords(grant) {
  if (grant.status === "revoked") return `Stopped on ${dayWords(grant.revoked_at)}.`;
  if (grant.expires_at && new Date(grant.expires_at) < new Date()) return "Ended.";
  return grant.emergency ? "Emergency access." : "Active.";
}

export async function sharingPage(main) {
  const grants = await loadOrExplain(main, "Who can see what", async () => session.owner.grants());
  if (grants === undefined) return;
  const out = h("div", { id: "sharing-result", "aria-live": "polite" });
  const items = [];
  for (const g of grants) {
    const sentence = await grantSentence(g);
    const rewrap = h("input", { type: "checkbox", id: `rewrap-${g.grant_id}`, name: "rewrap" });
    const stop = h("button", { type: "button", class: "danger", "data-grant": g.grant_id, id: `revoke-${g.grant_id}` }, "Stop sharing");
    stop.addEventListener("click", () => busy(stop, async () => {
      fill(out, h("p", {}, "Stopping… the key servers forget this permission first, then your keys are renewed."));
      await session.owner.revoke(g.grant_id);
      const rotated = await rotateAfterRevoke(g.segments, { rewrap: rewrap.checked });
      fill(out, h("p", { class: "notice", role: "status", id: "revoked-notice" },
        `Stopped. ${await granteeWords(g)} can no longer see your ${listWords(g.segments.map(segmentWords))}. `, rotated));
      announce("Sharing stopped");
      await sharingPage(main);
      main.querySelector("#sharing-result")?.replaceWith(out);
    }, (exc) => fill(out, errorBox(...explain(exc)))));
    const active = g.status === "active";
    items.push(h("li", { class: `card grant${g.emergency ? " breakglass" : ""}`, "data-grant": g.grant_id, "data-status": g.status },
      h("p", { class: "sentence" }, sentence),
      h("p", { class: "hint" }, statusWords(g), ` Shared on ${dayWords(g.created_at)}.`),
      active ? h("div", {},
        h("label", { class: "choice", for: rewrap.id }, rewrap, "Also re-lock older records (slower; old keys then open nothing)"),
        stop) : null));
  }
  fill(main, h("h1", {}, "Who can see what"), out,
    grants.length ? h("ul", { class: "plain", id: "grants" }, items)
      : h("p", { id: "no-grants" }, "You share nothing with anyone. ", h("a", { href: "#/grant" }, "Share a part of your record"), "."));
}
