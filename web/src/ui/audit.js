// Access history: the ledger's events about the patient as a timeline, one line per
// access (an access is decided by several key servers: their events are one line), each
// entry's inclusion proof checked in the page against the ledger's signed checkpoint.

import { errorBox, fill, h } from "./dom.js";
import { loadOrExplain } from "./errors.js";
import { need } from "./need.js";
import { person, session } from "./session.js";
import { dayWords, listWords, personWords, segmentWords } from "./words.js";

const ACCESS = new Set(["access.decided", "access.granted", "access.denied", "access.breakglass", "access.requested"]);

/** Group the trail: every access event of one request into one line; others one each. */
export function timeline(entries) {
  const lines = [];
  const byRequest = new Map();
  for (const entry of entries) {
    const ev = entry.event;
    const requestId = ev.data?.request_id;
    if (ACCESS.has(ev.type) && requestId) {
      let line = byRequest.get(requestId);
      if (!line) {
        line = { kind: "access", requestId, entries: [], time: ev.time, data: ev.data, granted: new Set(), denied: new Set(), breakglass: false, reason: null };
        byRequest.set(requestId, line);
        lines.push(line);
      }
      line.entries.push(entry);
      const d = ev.data;
      if (ev.type === "access.breakglass") {
        line.breakglass = true;
        line.reason = d.reason;
        d.segments.forEach((s) => line.granted.add(s));
      }
      for (const g of d.granted ?? []) {
        line.granted.add(g.segment);
        if (g.breakglass) line.breakglass = true;
      }
      for (const r of d.denied ?? []) line.denied.add(r.segment);
      if (ev.type === "access.granted") line.granted.add(d.segment);
      if (ev.type === "access.denied") line.denied.add(d.segment);
    } else {
      lines.push({ kind: ev.type, entries: [entry], time: ev.time, data: ev.data });
    }
  }
  for (const line of lines) for (const s of line.granted ?? []) line.denied?.delete(s);
  return lines.sort((a, b) => String(b.time).localeCompare(String(a.time)));
}

const groupWords = (sel) => (sel?.role ? `every ${sel.role}${sel.org ? " of one organisation" : ""}` : "a group");

async function words(line) {
  const d = line.data ?? {};
  if (line.kind === "access") {
    const who = personWords(await person(d.requester_id));
    const got = [...line.granted].map(segmentWords);
    const refused = [...line.denied].map(segmentWords);
    const parts = [];
    if (line.breakglass) parts.push(`EMERGENCY: ${who} opened your ${listWords(got)}${line.reason ? ` (reason: ${line.reason})` : ""}`);
    else if (got.length) parts.push(`${who} read your ${listWords(got)}`);
    if (refused.length) parts.push(`${got.length || line.breakglass ? "and was refused" : `${who} was refused`} your ${listWords(refused)}`);
    return parts.join(" ") || `${who} asked to read your record`;
  }
  const segs = (x) => listWords((x ?? []).map(segmentWords));
  switch (line.kind) {
    case "record.uploaded": return `A record was added by ${d.uploaded_by === session.userId ? "you" : personWords(await person(d.uploaded_by))}`;
    case "record.deleted": return "A record was deleted";
    case "user.enrolled": return "You joined PHR Exchange";
    case "acl.granted": return `You shared your ${segs(d.segments)} with ${d.grantee_user_id ? personWords(await person(d.grantee_user_id)) : groupWords(d.grantee_group)}`;
    case "acl.revoked": return "You stopped a permission";
    case "key.rotated": return `The key of your ${segmentWords(d.segment)} was renewed`;
    case "delegation.changed": return `${personWords(await person(d.delegate_user_id))} ${d.active ? "may now manage" : "no longer manages"} your sharing`;
    default: return line.kind;
  }
}

/** Verify every entry of `trail` (inclusion proofs, checkpoint signature): id -> ok. */
async function verifyTrail(trail) {
  const key = await session.ledger.key();
  const { entries } = await need("verifyAuditTrail")(trail, key.origin, key.ed25519_public);
  return Object.fromEntries(entries.map((r) => [r.entry.event_id, r.ok]));
}

export async function auditPage(main) {
  const trail = await loadOrExplain(main, "Access history", async () => session.ledger.audit(session.userId));
  if (trail === undefined) return;
  let verdict = null;
  let failure = null;
  try {
    verdict = await verifyTrail(trail);
  } catch (exc) {
    failure = exc;
  }
  const okOf = (entry) => Boolean(verdict?.[entry.event_id]);
  const lines = timeline(trail.entries);
  const items = [];
  for (const line of lines) {
    const ok = line.entries.every(okOf);
    items.push(h("li", { class: `entry${line.breakglass ? " breakglass" : ""}`, "data-kind": line.kind, "data-verified": String(ok) },
      h("time", { datetime: line.time }, dayWords(line.time, true)), " — ",
      line.breakglass ? h("strong", {}, await words(line)) : await words(line), " ",
      h("span", { class: ok ? "verified" : "unverified" }, ok ? "✓ verified in the ledger" : "✗ not verified")));
  }
  const all = items.length > 0 && lines.every((l) => l.entries.every(okOf));
  fill(main, h("h1", {}, "Access history"),
    failure ? errorBox("The history could not be verified.", failure.message) : null,
    h("p", { id: "audit-summary" }, all
      ? `All ${lines.length} entries verified against the ledger's signed checkpoint (log size ${trail.tree_size}).`
      : `${lines.length} entries.`),
    h("ol", { class: "timeline", id: "timeline" }, items));
}
