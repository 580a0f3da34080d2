// Key rotation and re-wrap (phr.client.rotation): capsules of older segment versions
// re-wrapped under a newer one; ciphertext and its AAD's key_version stay. Also the
// patient's signed segment public keys (phr.crypto.published_keys), published after
// enrolment and after every rotation.

import { checkShape, is, verifySigned } from "./documents.js";
import { SignatureInvalid } from "./errors.js";
import { segmentPublicKey, signJson, userPublicKeys } from "./keys.js";
import { normaliseManifest, signManifest } from "./manifest.js";
import { encapsulate, isoNow, openOwnCapsule } from "./record.js";

/** A capsule (b64u) of `segment` re-wrapped from one key version to another. */
export async function rewrapCapsule(material, segment, capsule, { fromVersion, toVersion }) {
  const secret = await openOwnCapsule(material, { name: segment, capsule_version: fromVersion, capsule });
  return encapsulate(await segmentPublicKey(material, segment, toVersion), secret);
}

/** A re-signed manifest whose `segment` capsule is wrapped to `toVersion`. */
export async function rotateSegment(signedManifest, material, { segment, toVersion }) {
  const manifest = normaliseManifest(signedManifest.manifest);
  const segments = [];
  for (const entry of manifest.segments) {
    if (entry.name === segment && entry.capsule_version !== toVersion) {
      const capsule = await rewrapCapsule(material, segment, entry.capsule, {
        fromVersion: entry.capsule_version,
        toVersion,
      });
      segments.push({ ...entry, capsule, capsule_version: toVersion });
    } else {
      segments.push(entry);
    }
  }
  const author = (await userPublicKeys(material)).verify_key;
  return signManifest(material, { ...manifest, segments, author });
}

/**
 * The manifest re-wrapped for every segment of `segments` whose capsule is older than
 * the current version (`versions`: segment -> current); null when nothing changes
 * (SharingClient.rewrap_records, one record).
 */
export async function rewrapManifest(signedManifest, material, { segments, versions }) {
  let updated = signedManifest;
  for (const entry of signedManifest.manifest.segments) {
    const target = Number(versions[entry.name] ?? 1);
    if (segments.includes(entry.name) && entry.capsule_version < target) {
      updated = await rotateSegment(updated, material, { segment: entry.name, toVersion: target });
    }
  }
  return updated === signedManifest ? null : updated;
}

/**
 * The signed segment public keys (body of PUT .../keys as "signed_keys"): every named
 * segment at its current version.
 */
export async function signPatientKeys(material, { patientId, segments, versions = {}, issuedAt = isoNow() }) {
  const keys = {
    format: "phr-patient-keys",
    version: 1,
    patient_id: patientId,
    segments: {},
    issued_at: issuedAt,
    author: (await userPublicKeys(material)).verify_key,
  };
  for (const s of segments) {
    const version = Number(versions[s] ?? 1);
    keys.segments[s] = { version, public_key: await segmentPublicKey(material, s, version) };
  }
  return { keys, signature: await signJson(material, keys) };
}

const PATIENT_KEYS = {
  format: [is.eq("phr-patient-keys"), "phr-patient-keys"],
  version: [is.eq(1), 1],
  patient_id: is.str,
  segments: (v) =>
    is.obj(v) &&
    Object.values(v).every((k) => {
      checkShape(k, { version: is.int(1), public_key: is.str }, SignatureInvalid, "segment key");
      return true;
    }),
  issued_at: is.str,
  author: is.str,
};

/** Verify a patient's signed keys (by expectedAuthor if given): the keys document. */
export async function verifyPatientKeys(signed, { expectedAuthor = null } = {}) {
  const what = "key document";
  return verifySigned(signed, { body: "keys", fields: PATIENT_KEYS, what, expectedAuthor });
}
