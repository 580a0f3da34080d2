// The key work after a revocation, as `phr revoke` does it: new key versions for the
// revoked parts, the new public keys published, the grants still active re-granted for
// the new versions, delegates re-sealed, and (optionally) older records re-wrapped.

import { has, need } from "./need.js";
import { session } from "./session.js";

/** Publish the patient's signed segment public keys at their current versions. */
export async function publishKeys() {
  const versions = (await session.owner.keys()).versions ?? {};
  const signed = await need("signPatientKeys")(session.material, {
    patientId: session.userId,
    segments: session.params.segments,
    versions,
  });
  await session.owner.publishKeys(signed);
  return versions;
}

/** Key grants (kfrags sealed to the SRS nodes, t of N) of `grant` for `versions`. */
export async function keyGrantsFor(grant, versions) {
  return need("makeKeyGrants")(session.material, {
    patientId: session.userId,
    grantId: grant.grant_id,
    granteeId: grant.grantee_user_id ?? grant.group_id,
    receivingPk: grant.receiving_pk,
    versions,
    nodes: session.params.srs.nodes,
    threshold: session.params.srs.threshold,
    notBefore: grant.not_before ?? null,
    expiresAt: grant.expires_at ?? null,
    purpose: grant.purpose ?? null,
  });
}

/** After a revoke: a sentence saying what was renewed (or why it was not). */
export async function rotateAfterRevoke(segments, { rewrap = false } = {}) {
  if (!has("signPatientKeys") || !has("makeKeyGrants")) {
    return "Your keys were not renewed: this version of the page cannot renew them yet (phr rotate can).";
  }
  const { versions: fresh } = await session.owner.rotate(segments);
  await publishKeys();
  for (const grant of await session.owner.grants()) {
    const covered = Object.fromEntries(Object.entries(fresh).filter(([s]) => grant.segments.includes(s)).map(([s, v]) => [s, [v]]));
    if (grant.status !== "active" || !Object.keys(covered).length) continue;
    await session.owner.addKeyGrants(grant.grant_id, await keyGrantsFor(grant, covered));
  }
  for (const d of await session.owner.delegations()) {
    if (d.active && d.segments.some((s) => s in fresh)) await sealToDelegate(d.delegate_user_id, d.segments);
  }
  let rewrapped = 0;
  if (rewrap) {
    const rewrapManifest = need("rewrapManifest");
    for (const info of await session.owner.records()) {
      const detail = await session.owner.record(info.record_id);
      const updated = await rewrapManifest(detail.signed_manifest, session.material, {
        segments: Object.keys(fresh),
        versions: (await session.owner.keys()).versions ?? fresh,
      });
      if (updated) {
        await session.owner.replaceManifest(info.record_id, updated);
        rewrapped += 1;
      }
    }
  }
  const renewed = Object.keys(fresh).length;
  return `${renewed} key${renewed === 1 ? "" : "s"} renewed${rewrap ? `, ${rewrapped} older record${rewrapped === 1 ? "" : "s"} re-locked` : ""}.`;
}

/** Seal every version so far of `segments`' keys to a caregiver and name him. */
export async function sealToDelegate(userId, segments) {
  const user = await session.kgc.user(userId);
  const versions = (await session.owner.keys()).versions ?? {};
  const sealed = await need("sealDelegation")(session.material, { delegatePk: user.umbral_public, segments, versions });
  return session.owner.delegate(user.user_id, { segments, sealed_keys: sealed });
}
