// Seal a kfrag to one SRS node's X25519 key (phr.crypto.seal, envelope version 1):
//
//   "PHRK" | 1 | 1 (X25519) | 1 (HKDF-SHA256) | 1 (AES-256-GCM) | enc (32 B) | ct || tag
//   context    = canonical JSON of {"fmt": "phr-seal/v1", "node_id", "grant_id"}
//   key, nonce = HKDF-SHA256(X25519(eph, node), salt = enc || node_pk, info = context, 44)
//   ct         = AES-256-GCM(key, nonce, plaintext, aad = header || context)

import { concat, equalBytes, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { FormatError, IntegrityError, UnsealError } from "./errors.js";
import { aesGcmDecrypt, aesGcmEncrypt, hkdfSha256, randomBytes, x25519Public, x25519Shared } from "./primitives.js";

const HEADER = concat(utf8("PHRK"), new Uint8Array([1, 1, 1, 1]));

const context = (nodeId, grantId) =>
  canonicalJson({ fmt: "phr-seal/v1", node_id: nodeId, grant_id: grantId });

async function keyNonce(shared, enc, nodePk, ctx) {
  const okm = await hkdfSha256(shared, { salt: concat(enc, nodePk), info: ctx, length: 44 });
  return [okm.subarray(0, 32), okm.subarray(32)];
}

/** Seal bytes to one node for one grant; `ephemeral` (32 B secret) for golden tests only. */
export async function seal(nodePublic, plaintext, { nodeId, grantId, ephemeral = null }) {
  if (nodePublic.length !== 32) throw new FormatError("an X25519 public key has 32 bytes");
  const eph = ephemeral ?? randomBytes(32);
  const enc = await x25519Public(eph);
  const ctx = context(nodeId, grantId);
  const [key, nonce] = await keyNonce(await x25519Shared(eph, nodePublic), enc, nodePublic, ctx);
  return concat(HEADER, enc, await aesGcmEncrypt(key, nonce, plaintext, concat(HEADER, ctx)));
}

/** Open an envelope (what a node does; here for tests and symmetry). */
export async function unseal(nodeSecret, envelope, { nodeId, grantId }) {
  if (envelope.length < HEADER.length + 32 + 16) throw new FormatError("sealed envelope too short");
  if (!equalBytes(envelope.subarray(0, HEADER.length), HEADER)) {
    throw new FormatError("not a version-1 sealed envelope");
  }
  const enc = envelope.subarray(HEADER.length, HEADER.length + 32);
  const ctx = context(nodeId, grantId);
  const nodePk = await x25519Public(nodeSecret);
  const [key, nonce] = await keyNonce(await x25519Shared(nodeSecret, enc), enc, nodePk, ctx);
  try {
    return await aesGcmDecrypt(key, nonce, envelope.subarray(HEADER.length + 32), concat(HEADER, ctx));
  } catch (exc) {
    if (exc instanceof IntegrityError) {
      throw new UnsealError("envelope does not open for this node and grant");
    }
    throw exc;
  }
}
