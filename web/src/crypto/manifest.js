// Signed record manifests (phr.crypto.manifest): what a record holds and how to check
// its ciphertext. Signed by the patient's or a contributor's Ed25519 key.

import { checkShape, is, verifySigned } from "./documents.js";
import { ManifestInvalid } from "./errors.js";
import { signJson, userPublicKeys } from "./keys.js";

const ENTRY = {
  name: is.str,
  key_version: is.int(1),
  capsule_version: is.int(1),
  chunk_size: is.int(1),
  plaintext_size: is.int(0),
  size: is.int(0),
  sha256: is.hex64,
  capsule: is.str,
  tag_count: is.int(0),
  resource_count: is.int(0),
};

const MANIFEST = {
  format: [is.eq("phr-record-manifest"), "phr-record-manifest"],
  version: [is.eq(1), 1],
  patient_id: is.str,
  record_id: is.str,
  created_at: is.str,
  author: is.str,
  segments: is.list((e) => {
    checkShape(e, ENTRY, ManifestInvalid, "segment");
    return true;
  }),
};

/** A manifest with its fields in the Python order (RecordManifest.model_dump). */
export function normaliseManifest(manifest) {
  const m = checkShape(manifest, MANIFEST, ManifestInvalid, "manifest");
  return { ...m, segments: m.segments.map((e) => checkShape(e, ENTRY, ManifestInvalid)) };
}

/** {manifest, signature}: the manifest signed by the material's key (its author). */
export async function signManifest(material, manifest) {
  const m = normaliseManifest(manifest);
  if (m.author !== (await userPublicKeys(material)).verify_key) {
    throw new ManifestInvalid("manifest.author must be the signing key's public key");
  }
  return { manifest: m, signature: await signJson(material, m) };
}

/**
 * Check a signed manifest (by manifest.author, which must be expectedAuthor if given);
 * returns the manifest. SignatureInvalid for a bad signature, author or shape.
 */
export async function verifyManifest(signed, { expectedAuthor = null } = {}) {
  await verifySigned(signed, { body: "manifest", fields: MANIFEST, what: "manifest", expectedAuthor });
  return normaliseManifest(signed.manifest);
}
