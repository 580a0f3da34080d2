// Key material as phr.crypto.keys and phr.crypto.export hold it, as plain objects.
//
// A user's secret keys travel as the key export (version 1):
//   {"format": "phr-secret-keys", "version": 1, "user_id": str | null,
//    "pre_sk": b64u (Umbral scalar), "signing_seed": b64u (Ed25519 seed),
//    "master_secret": b64u (32 B) | null}
// A patient's master secret derives, through Umbral's SecretKeyFactory, one key pair
// per (segment, version) ("phr/segment/<segment>/v<version>"), the kfrag signer
// ("phr/kfrag-signer") and a search key per (segment, version).

import { b64uDecode, b64uEncode, toHex, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { FormatError, KeystoreError } from "./errors.js";
import { ed25519Public, ed25519Sign, randomBytes, sha256 } from "./primitives.js";
import { umbral } from "./umbral.js";

export const EXPORT_FORMAT = "phr-secret-keys";

export function segmentLabel(segment, version) {
  if (!Number.isInteger(version) || version < 1 || !segment || segment.includes("/")) {
    throw new FormatError("segment names are non-empty without '/', versions start at 1");
  }
  return utf8(`phr/segment/${segment}/v${version}`);
}

/** The export with exactly its fields, in the Python order. */
export function exportSecretKeys(material) {
  return {
    format: EXPORT_FORMAT,
    version: 1,
    user_id: material.user_id ?? null,
    pre_sk: material.pre_sk,
    signing_seed: material.signing_seed,
    master_secret: material.master_secret ?? null,
  };
}

/** Check a key export (as phr.crypto.export.import_secret_keys does) and return it. */
export async function importSecretKeys(doc) {
  if (doc === null || typeof doc !== "object" || doc.format !== EXPORT_FORMAT) {
    throw new KeystoreError("not a PHR secret key export");
  }
  if (doc.version !== 1) throw new KeystoreError(`unsupported key export version ${doc.version}`);
  try {
    const u = await umbral();
    u.SecretKey.fromBEBytes(b64uDecode(doc.pre_sk)).free();
    if (b64uDecode(doc.signing_seed).length !== 32) throw new FormatError("seed");
    if (doc.master_secret && b64uDecode(doc.master_secret).length !== 32) {
      throw new FormatError("master");
    }
    if (doc.user_id != null && typeof doc.user_id !== "string") throw new FormatError("id");
  } catch {
    throw new KeystoreError("malformed key export");
  }
  return exportSecretKeys({ ...doc, master_secret: doc.master_secret || null });
}

/** Fresh keys for enrolment: a patient also gets a master secret. */
export async function generateKeyMaterial({ role, userId = null } = {}) {
  const u = await umbral();
  const sk = u.SecretKey.random();
  const material = exportSecretKeys({
    user_id: userId,
    pre_sk: b64uEncode(sk.toBEBytes()),
    signing_seed: b64uEncode(randomBytes(32)),
    master_secret: role === "patient" ? b64uEncode(randomBytes(32)) : null,
  });
  sk.free();
  return material;
}

/** The material with the user id the KGC assigned. */
export function withUserId(material, userId) {
  return { ...exportSecretKeys(material), user_id: userId };
}

export async function preSecretKey(material) {
  return (await umbral()).SecretKey.fromBEBytes(b64uDecode(material.pre_sk));
}

/** What a user publishes: {"pre_pk", "verify_key"} (UserPublicKeys.to_json). */
export async function userPublicKeys(material) {
  const sk = await preSecretKey(material);
  const pre = b64uEncode(sk.publicKey().toCompressedBytes());
  sk.free();
  const verify = b64uEncode(await ed25519Public(b64uDecode(material.signing_seed)));
  return { pre_pk: pre, verify_key: verify };
}

/** SHA-256 hex of a raw public key given as base64url (VerifyKey.fingerprint). */
export async function fingerprint(publicB64) {
  return toHex(await sha256(b64uDecode(publicB64)));
}

function master(material) {
  if (!material.master_secret) throw new KeystoreError("these keys hold no master secret");
  return b64uDecode(material.master_secret);
}

async function factory(material) {
  return (await umbral()).SecretKeyFactory.fromSecureRandomness(master(material));
}

/** The Umbral secret key of a segment version (caller frees it). */
export async function segmentSecretKey(material, segment, version) {
  const f = await factory(material);
  const sk = f.makeKey(segmentLabel(segment, version));
  f.free();
  return sk;
}

/** base64url compressed public key of a segment version. */
export async function segmentPublicKey(material, segment, version) {
  const sk = await segmentSecretKey(material, segment, version);
  const out = b64uEncode(sk.publicKey().toCompressedBytes());
  sk.free();
  return out;
}

/** Segment name -> base64url public key (PatientMasterKey.public_keys). */
export async function segmentPublicKeys(material, segments, version) {
  const out = {};
  for (const s of segments) out[s] = await segmentPublicKey(material, s, version);
  return out;
}

/** The Umbral key that signs the patient's kfrags (caller frees it). */
export async function kfragSigner(material) {
  const f = await factory(material);
  const sk = f.makeKey(utf8("phr/kfrag-signer"));
  f.free();
  return sk;
}

export async function kfragSignerPublic(material) {
  const sk = await kfragSigner(material);
  const out = b64uEncode(sk.publicKey().toCompressedBytes());
  sk.free();
  return out;
}

/** The 32-byte search key of a segment version (PatientMasterKey.search_key). */
export async function searchKey(material, segment, version) {
  segmentLabel(segment, version);
  const f = await factory(material);
  const raw = f.makeSecret(utf8(`phr/search/${segment}/v${version}`));
  f.free();
  return raw.slice(0, 32);
}

/** Ed25519 signature (base64url) by the user's signing key over canonical JSON. */
export async function signJson(material, value) {
  return b64uEncode(await ed25519Sign(b64uDecode(material.signing_seed), canonicalJson(value)));
}

/** The signed body of POST /v1/users (phr.sdk.identity.enrolment_request). */
export async function enrolmentRequest(
  material,
  { role, organisation_id = null, department = null },
) {
  const pub = await userPublicKeys(material);
  const body = {
    role,
    organisation_id,
    department,
    ed25519_public: pub.verify_key,
    umbral_public: pub.pre_pk,
  };
  body.proof = await signJson(material, { purpose: "phr-enrol-v1", ...body });
  return body;
}

/** The answer to the KGC's login challenge: the body of POST /v1/auth/token. */
export async function signChallenge(material, { user_id, nonce }) {
  if (typeof user_id !== "string" || typeof nonce !== "string") {
    throw new FormatError("a challenge has a user_id and a nonce");
  }
  const signature = await signJson(material, { purpose: "phr-login-v1", user_id, nonce });
  return { user_id, nonce, signature };
}
