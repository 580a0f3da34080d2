// Grants (phr.client.grant, phr.crypto.grants): t-of-N Umbral kfrags from a segment key
// to a grantee, each sealed to one SRS node, under a grant document the patient (or a
// delegate) signs; and delegation sealing (segment keys sealed to a caregiver).

import { b64uDecode, b64uEncode, toHex } from "./bytes.js";
import { sealToKey, openWithKey } from "./capsule.js";
import { is, verifySigned } from "./documents.js";
import { FormatError } from "./errors.js";
import { kfragSigner, preSecretKey, segmentSecretKey, signJson, userPublicKeys } from "./keys.js";
import { sha256 } from "./primitives.js";
import { seal } from "./seal.js";
import { umbral } from "./umbral.js";

const GRANT = {
  format: [is.eq("phr-grant"), "phr-grant"],
  version: [is.eq(1), 1],
  grant_id: is.str,
  patient_id: is.str,
  grantee_id: is.str,
  segment: is.str,
  key_version: is.int(1),
  threshold: is.int(1),
  delegating_pk: is.str,
  receiving_pk: is.str,
  verifying_pk: is.str,
  kfrag_sha256: (v) => is.obj(v) && Object.values(v).every(is.str),
  not_before: [is.optStr, null],
  expires_at: [is.optStr, null],
  purpose: [is.optStr, null],
  author: is.str,
};

/** "{grant}/{segment}/v{n}": the id of one grant's kfrags for one segment version. */
export function keyGrantId(grantId, segment, version) {
  return `${grantId}/${segment}/v${version}`;
}

/** A fresh grant id as the SDK makes them ("g_" and 32 hex digits). */
export function newGrantId() {
  return `g_${toHex(globalThis.crypto.getRandomValues(new Uint8Array(16)))}`;
}

/**
 * One segment version's grant from keys held as Umbral secret key objects
 * (make_grant_from_keys): {segment, key_version, signed_grant, sealed_kfrags (b64u)}.
 */
export async function makeGrantFromKeys(
  segmentSk,
  signerSk,
  material,
  { patientId, granteeId, receivingPk, segment, keyVersion, nodes, threshold, grantId,
    notBefore = null, expiresAt = null, purpose = null },
) {
  if (!nodes.length) throw new FormatError("the system parameters list no SRS node");
  if (new Set(nodes.map((n) => n.id)).size !== nodes.length) {
    throw new FormatError("SRS node ids must be unique");
  }
  if (!(threshold >= 1 && threshold <= nodes.length)) {
    throw new FormatError("need 1 <= threshold <= number of SRS nodes");
  }
  const u = await umbral();
  const receiving = u.PublicKey.fromCompressedBytes(b64uDecode(receivingPk));
  const signer = new u.Signer(signerSk);
  const kfrags = u.generateKFrags(segmentSk, receiving, signer, threshold, nodes.length, true, true);
  const sealed = {};
  const digests = {};
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    const envelope = await seal(b64uDecode(node.x25519_public), kfrags[i].toBytes(), {
      nodeId: node.id,
      grantId,
    });
    kfrags[i].free();
    sealed[node.id] = b64uEncode(envelope);
    digests[node.id] = toHex(await sha256(envelope));
  }
  const grant = {
    format: "phr-grant",
    version: 1,
    grant_id: grantId,
    patient_id: patientId,
    grantee_id: granteeId,
    segment,
    key_version: keyVersion,
    threshold,
    delegating_pk: b64uEncode(segmentSk.publicKey().toCompressedBytes()),
    receiving_pk: receivingPk,
    verifying_pk: b64uEncode(signerSk.publicKey().toCompressedBytes()),
    kfrag_sha256: digests,
    not_before: notBefore,
    expires_at: expiresAt,
    purpose,
    author: (await userPublicKeys(material)).verify_key,
  };
  receiving.free();
  signer.free();
  const signed_grant = { grant, signature: await signJson(material, grant) };
  return { segment, key_version: keyVersion, signed_grant, sealed_kfrags: sealed };
}

/**
 * The "key_grants" of a grant request (SharingClient._key_grants) for the patient:
 * one per segment version in `versions` ({segment: [version, ...]}), kfrags sealed to
 * `nodes` (params.srs.nodes) with the parameters' threshold. Times are ISO strings.
 * A delegate passes `delegatedKeys` ({segment: {version: Umbral secret key}}).
 */
export async function makeKeyGrants(
  material,
  { patientId, grantId, granteeId, receivingPk, versions, nodes, threshold,
    notBefore = null, expiresAt = null, purpose = null, delegatedKeys = null },
) {
  const out = [];
  const signer = delegatedKeys ? await preSecretKey(material) : await kfragSigner(material);
  try {
    for (const [segment, list] of Object.entries(versions)) {
      for (const version of list.map(Number)) {
        const held = delegatedKeys?.[segment]?.[version];
        if (delegatedKeys && !held) {
          throw new FormatError(`no key for ${segment} v${version} was delegated`);
        }
        const sk = held ?? (await segmentSecretKey(material, segment, version));
        try {
          out.push(
            await makeGrantFromKeys(sk, signer, material, {
              patientId, granteeId, receivingPk, segment, keyVersion: version, nodes, threshold,
              grantId: keyGrantId(grantId, segment, version), notBefore, expiresAt, purpose,
            }),
          );
        } finally {
          if (!held) sk.free();
        }
      }
    }
  } finally {
    signer.free();
  }
  return out;
}

/** Check a signed grant's signature (and author); returns the grant document. */
export async function verifyGrant(signed, { expectedAuthor = null } = {}) {
  return verifySigned(signed, { body: "grant", fields: GRANT, what: "grant", expectedAuthor });
}

/**
 * Delegation sealing (SharingClient.delegate): every version so far of each segment's
 * secret key sealed to the delegate's Umbral key: {segment: {"1": b64u, ...}}.
 */
export async function sealDelegation(material, { delegatePk, segments, versions = {} }) {
  const sealed = {};
  for (const s of segments) {
    sealed[s] = {};
    for (let v = 1; v <= Number(versions[s] ?? 1); v++) {
      const sk = await segmentSecretKey(material, s, v);
      sealed[s][String(v)] = await sealToKey(delegatePk, sk.toBEBytes());
      sk.free();
    }
  }
  return sealed;
}

/**
 * The delegate opens what was sealed to him ({segment: {version: b64u}}, the body of
 * GET .../delegations/{me}/keys): {segment: {version: Umbral secret key}} (caller frees).
 */
export async function openDelegation(material, sealedKeys) {
  const u = await umbral();
  const mine = await preSecretKey(material);
  const held = {};
  try {
    for (const [segment, byVersion] of Object.entries(sealedKeys)) {
      held[segment] = {};
      for (const [version, sealed] of Object.entries(byVersion)) {
        held[segment][Number(version)] = u.SecretKey.fromBEBytes(await openWithKey(mine, sealed));
      }
    }
  } finally {
    mine.free();
  }
  return held;
}
