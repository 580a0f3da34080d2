// Share: a part of the record to a person found in the directory, or to a group (a role
// at an organisation), from a date, until a date, for a purpose. The key fragments are
// made and sealed to the key servers in this page.

import { announce, busy, errorBox, field, fill, h } from "./dom.js";
import { explain } from "./errors.js";
import { keyGrantsFor } from "./keyflows.js";
import { grantSentence } from "./sharing.js";
import { session } from "./session.js";
import { personWords, segmentWords } from "./words.js";

const iso = (day, endOfDay = false) => (day ? new Date(`${day}T${endOfDay ? "23:59:59" : "00:00:00"}Z`).toISOString() : null);

function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Grant `segments` to `grantee` ({user} or {group}); every key version so far (past data). */
export async function share({ user, group, segments, notBefore, expiresAt, purpose, emergency = false }) {
  const versions = (await session.owner.keys()).versions ?? {};
  const held = Object.fromEntries(segments.map((s) => [s, Array.from({ length: versions[s] ?? 1 }, (_, i) => i + 1)]));
  const grant = {
    grant_id: randomId("g_"),
    grantee_user_id: user?.user_id ?? null,
    group_id: group?.group_id ?? null,
    receiving_pk: user?.umbral_public ?? group?.public_key,
    not_before: notBefore,
    expires_at: expiresAt,
    purpose: purpose || null,
  };
  const body = {
    grant_id: grant.grant_id,
    ...(user ? { grantee_user_id: user.user_id } : { group_id: group.group_id }),
    segments,
    not_before: notBefore,
    expires_at: expiresAt,
    data_from: null,
    purpose: purpose || null,
    emergency,
    threshold: session.params.srs.threshold,
    key_grants: await keyGrantsFor(grant, held),
  };
  return session.owner.grant(body);
}

export async function grantPage(main) {
  const out = h("div", { id: "grant-result" });
  const fail = (exc) => fill(out, errorBox(...explain(exc)));
  let chosen = null;

  // who: a person by id, or a group (role, organisation)
  const who = field("Their user id", { type: "text", name: "grantee", autocomplete: "off" }, "As your doctor gives it to you, e.g. u_3f2a…");
  const found = h("p", { id: "grantee-found", "aria-live": "polite" });
  const look = h("button", { type: "button", class: "secondary", id: "find-grantee" }, "Look up");
  look.addEventListener("click", () => busy(look, async () => {
    chosen = await session.kgc.user(who.control.value.trim());
    fill(found, `Found: ${personWords(chosen)} (${chosen.role}).`);
  }, (exc) => { chosen = null; fill(found); fail(exc); }));
  const orgs = await session.kgc.orgs().catch(() => []);
  const role = field("Role", { tag: "select", name: "role", options: [["", "—"], ["doctor", "doctors"], ["nurse", "nurses"], ["pharmacist", "pharmacists"], ["lab", "lab staff"], ["insurer", "insurers"]] });
  const org = field("Organisation", { tag: "select", name: "org", options: [["", "—"], ...orgs.map((o) => [o.organisation_id, o.name])] });
  // the directory: the people with that role at that organisation, to pick one
  const people = h("div", { id: "directory-results", "aria-live": "polite" });
  const search = h("button", { type: "button", class: "secondary", id: "search-directory" }, "List the people with this role here");
  search.addEventListener("click", () => busy(search, async () => {
    const selector = [role.control.value && `role=${role.control.value}`, org.control.value && `org=${org.control.value}`].filter(Boolean).join(",");
    if (!selector) throw new Error("Choose a role or an organisation.");
    const matches = (await session.kgc.findUsers(selector)).filter((u) => u.status === "active");
    fill(people, matches.length ? h("ul", { class: "plain" }, matches.map((u) => h("li", {},
      h("button", { type: "button", class: "secondary", "data-user": u.user_id, onclick: () => {
        chosen = u;
        who.control.value = u.user_id;
        toPerson.checked = true;
        fill(found, `Chosen: ${personWords(u)}.`);
      } }, `Choose ${personWords(u)}`)))) : h("p", {}, "Nobody found."));
  }, fail));
  const toPerson = h("input", { type: "radio", name: "to", value: "person", id: "to-person", checked: true });
  const toGroup = h("input", { type: "radio", name: "to", value: "group", id: "to-group" });

  const boxes = session.params.segments.map((s) => h("input", { type: "checkbox", name: "segment", value: s, id: `seg-${s}` }));
  const start = field("From", { type: "date", name: "start" }, "Leave empty for today.");
  const end = field("Until", { type: "date", name: "end" }, "Leave empty for no end date.");
  const purpose = field("Why (they will see this)", { type: "text", name: "purpose", maxlength: "256" }, "For example: follow-up of my diabetes.");
  const send = h("button", { type: "submit", id: "grant" }, "Share");

  const form = h("form", { onsubmit: (e) => {
    e.preventDefault();
    fill(out);
    busy(send, async () => {
      const segments = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!segments.length) throw new Error("Choose at least one part to share.");
      let target;
      if (toGroup.checked) {
        const selector = {};
        if (role.control.value) selector.role = role.control.value;
        if (org.control.value) selector.org = org.control.value;
        if (!Object.keys(selector).length) throw new Error("Choose a role or an organisation.");
        target = { group: await session.kgc.createGroup(selector) };
      } else {
        if (!chosen || chosen.user_id !== who.control.value.trim()) chosen = await session.kgc.user(who.control.value.trim());
        target = { user: chosen };
      }
      const grant = await share({ ...target, segments, notBefore: iso(start.control.value), expiresAt: iso(end.control.value, true), purpose: purpose.control.value.trim() });
      fill(out, h("p", { class: "notice", role: "status", id: "grant-done", "data-grant": grant.grant_id }, `Done. ${await grantSentence(grant)}`));
      announce("Shared");
    }, fail);
  } },
  h("fieldset", {}, h("legend", {}, "With whom"),
    h("label", { class: "choice", for: "to-person" }, toPerson, "One person"),
    who.el, look, found,
    h("label", { class: "choice", for: "to-group" }, toGroup, "Everyone with a role at an organisation (also people who join later)"),
    role.el, org.el, search, people),
  h("fieldset", {}, h("legend", {}, "What"),
    boxes.map((b) => h("label", { class: "choice", for: b.id }, b, segmentWords(b.value)))),
  h("fieldset", {}, h("legend", {}, "When and why"), start.el, end.el, purpose.el),
  send);
  fill(main, h("h1", {}, "Share"), form, out);
}
