// Records: a FHIR Bundle validated, split, encrypted and signed in the page
// (phr.client.record.encrypt_record), and the patient's own record opened again
// (phr.client.access: the segment key of the capsule's version opens the capsule).

import { b64uDecode, fromHex, toHex } from "./bytes.js";
import { capsuleToBytes, newSegmentSecret, openWithKey, secretFromBytes, secretToBytes } from "./capsule.js";
import { b64uEncode } from "./bytes.js";
import { CapsuleOpenError, FormatError } from "./errors.js";
import { mergeSegments, payloadFromBytes, payloadKeywords, payloadToBytes, splitBundle } from "./fhir.js";
import { searchKey, segmentPublicKey, segmentSecretKey, userPublicKeys } from "./keys.js";
import { signManifest, verifyManifest } from "./manifest.js";
import { keywordTags } from "./search.js";
import { DEFAULT_CHUNK_SIZE, decryptSegment, encryptSegment } from "./stream.js";
import { umbral } from "./umbral.js";

/** Python's datetime.now(UTC).isoformat(): "2026-06-30T12:00:00.123000+00:00". */
export function isoNow(date = new Date()) {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");
}

/** Wrap a segment secret ({data_key, search_key}) to an Umbral public key (b64u). */
export async function encapsulate(publicB64, secret) {
  const u = await umbral();
  const pk = u.PublicKey.fromCompressedBytes(b64uDecode(publicB64));
  const [capsule, wrapped] = u.encrypt(pk, secretToBytes(secret));
  const out = b64uEncode(capsuleToBytes({ capsule: capsule.toBytes(), wrapped }));
  capsule.free();
  pk.free();
  return out;
}

/**
 * Encrypt one segment payload: {entry (manifest entry), ciphertext, tags}.
 * `recipient`: {public_key (b64u), version, search_key (bytes) | null}.
 */
export async function encryptSegmentPayload(
  payload,
  { patientId, recordId, recipient, chunkSize = DEFAULT_CHUNK_SIZE, onProgress },
) {
  const secret = newSegmentSecret({ searchKey: recipient.search_key ?? null });
  const capsule = await encapsulate(recipient.public_key, secret);
  const tags = await keywordTags(secret.search_key, payloadKeywords(payload));
  const context = {
    patient_id: patientId,
    record_id: recordId,
    segment: payload.segment,
    key_version: recipient.version,
  };
  const enc = await encryptSegment(secret.data_key, context, payloadToBytes(payload), {
    chunkSize,
    onProgress,
  });
  const entry = {
    name: payload.segment,
    key_version: recipient.version,
    capsule_version: recipient.version,
    chunk_size: enc.chunk_size,
    plaintext_size: enc.plaintext_size,
    size: enc.size,
    sha256: toHex(enc.sha256),
    capsule,
    tag_count: tags.length,
    resource_count: payload.entries.length,
  };
  return { entry, ciphertext: enc.ciphertext, tags };
}

/** The owner's recipients: segment keys and search keys from his master secret. */
export function ownerRecipients(material, versions = {}) {
  return async (segment) => {
    const version = Number(versions[segment] ?? 1);
    return {
      public_key: await segmentPublicKey(material, segment, version),
      version,
      search_key: await searchKey(material, segment, version),
    };
  };
}

/**
 * A contributor's recipients from the patient's published keys
 * ({segment: {version, public_key}}, PatientKeys.segments); fresh search keys.
 */
export function publishedRecipients(segments) {
  return async (segment) => {
    const k = segments[segment];
    if (!k) throw new FormatError(`the patient published no key for segment '${segment}'`);
    return { public_key: k.public_key, version: k.version, search_key: null };
  };
}

/**
 * Validate, split, encrypt and sign a Bundle. `recipients` is ownerRecipients(...) or
 * publishedRecipients(...), default the material's own keys. Returns
 * {signed_manifest, segments: {name: {entry, ciphertext, tags}}}.
 * onProgress({segment, done, total}) reports bytes encrypted.
 */
export async function encryptRecord(
  bundle,
  material,
  {
    patientId,
    recordId,
    recipients = ownerRecipients(material),
    chunkSize = DEFAULT_CHUNK_SIZE,
    createdAt = isoNow(),
    validate = true,
    onProgress,
  },
) {
  const payloads = splitBundle(bundle, { validate });
  const segments = {};
  for (const [name, payload] of Object.entries(payloads)) {
    const progress = onProgress && ((done, total) => onProgress({ segment: name, done, total }));
    segments[name] = await encryptSegmentPayload(payload, {
      patientId,
      recordId,
      recipient: await recipients(name),
      chunkSize,
      onProgress: progress,
    });
  }
  const manifest = {
    format: "phr-record-manifest",
    version: 1,
    patient_id: patientId,
    record_id: recordId,
    created_at: createdAt,
    author: (await userPublicKeys(material)).verify_key,
    segments: Object.values(segments).map((s) => s.entry),
  };
  return { signed_manifest: await signManifest(material, manifest), segments };
}

/** The segment secret of a manifest entry, opened with the patient's own keys. */
export async function openOwnCapsule(material, entry) {
  const sk = await segmentSecretKey(material, entry.name, entry.capsule_version);
  try {
    return secretFromBytes(await openWithKey(sk, entry.capsule));
  } finally {
    sk.free();
  }
}

/** Decrypt one segment of the patient's own record: its payload. */
export async function decryptOwnSegment(material, manifest, name, ciphertext) {
  const entry = manifest.segments.find((e) => e.name === name);
  if (!entry) throw new FormatError(`the record has no segment '${name}'`);
  const secret = await openOwnCapsule(material, entry);
  const context = {
    patient_id: manifest.patient_id,
    record_id: manifest.record_id,
    segment: name,
    key_version: entry.key_version,
  };
  const plain = await decryptSegment(secret.data_key, context, ciphertext, {
    expectedSha256: fromHex(entry.sha256),
  });
  return payloadFromBytes(plain);
}

/**
 * Verify the signed manifest, decrypt the given segments ({name: ciphertext bytes})
 * and merge them: {manifest, payloads, bundle}.
 */
export async function decryptOwnRecord(material, signedManifest, ciphertexts, { expectedAuthor = null } = {}) {
  const manifest = await verifyManifest(signedManifest, { expectedAuthor });
  const payloads = {};
  for (const [name, ct] of Object.entries(ciphertexts)) {
    payloads[name] = await decryptOwnSegment(material, manifest, name, ct);
  }
  const bundle = mergeSegments(Object.values(payloads), {
    bundleId: manifest.record_id,
    validate: false,
  });
  return { manifest, payloads, bundle };
}

export { CapsuleOpenError };
