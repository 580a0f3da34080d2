// WebCrypto primitives (AES-256-GCM, HKDF/HMAC/SHA-256, Ed25519, X25519), as
// phr.crypto.primitives and phr.crypto.signing use them. Same code in node 20 and a page.

import { b64uDecode, concat, equalBytes, fromHex } from "./bytes.js";
import { FormatError, IntegrityError, SignatureInvalid, UnsealError } from "./errors.js";

const subtle = globalThis.crypto.subtle;

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

async function aesKey(key, use) {
  if (key.length !== 32) throw new FormatError("AES-256-GCM needs a 32-byte key");
  return subtle.importKey("raw", key, "AES-GCM", false, [use]);
}

/** AES-256-GCM, 12-byte nonce: ciphertext || 16-byte tag. */
export async function aesGcmEncrypt(key, nonce, plaintext, aad) {
  const k = await aesKey(key, "encrypt");
  const params = { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 };
  return new Uint8Array(await subtle.encrypt(params, k, plaintext));
}

/** Inverse of aesGcmEncrypt; IntegrityError on any forgery. */
export async function aesGcmDecrypt(key, nonce, ciphertext, aad) {
  const k = await aesKey(key, "decrypt");
  try {
    const params = { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 };
    return new Uint8Array(await subtle.decrypt(params, k, ciphertext));
  } catch {
    throw new IntegrityError("AES-GCM authentication failed");
  }
}

/** HKDF-SHA256 (RFC 5869); a null salt means the hash-length zero salt. */
export async function hkdfSha256(ikm, { salt, info, length }) {
  const k = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: salt ?? new Uint8Array(32), info };
  return new Uint8Array(await subtle.deriveBits(params, k, length * 8));
}

export async function hmacSha256(key, message) {
  const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await subtle.sign("HMAC", k, message));
}

// PKCS#8 prefixes of a raw 32-byte Ed25519 seed / X25519 scalar (RFC 8410).
const ED25519_PKCS8 = fromHex("302e020100300506032b657004220420");
const X25519_PKCS8 = fromHex("302e020100300506032b656e04220420");

function need32(raw, what) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new FormatError(`an ${what} has 32 bytes`);
  }
}

async function edPrivate(seed) {
  need32(seed, "Ed25519 seed");
  return subtle.importKey("pkcs8", concat(ED25519_PKCS8, seed), "Ed25519", true, ["sign"]);
}

async function publicFromPrivate(key) {
  const jwk = await subtle.exportKey("jwk", key);
  return b64uDecode(jwk.x);
}

/** The 32-byte Ed25519 public key of a seed. */
export async function ed25519Public(seed) {
  return publicFromPrivate(await edPrivate(seed));
}

export async function ed25519Sign(seed, message) {
  return new Uint8Array(await subtle.sign("Ed25519", await edPrivate(seed), message));
}

/** Raise SignatureInvalid unless signature signs message under the 32-byte public key. */
export async function ed25519Verify(publicKey, signature, message) {
  let ok = false;
  try {
    need32(publicKey, "Ed25519 public key");
    const k = await subtle.importKey("raw", publicKey, "Ed25519", false, ["verify"]);
    ok = signature.length === 64 && (await subtle.verify("Ed25519", k, signature, message));
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureInvalid("signature does not verify");
}

async function xPrivate(secret) {
  need32(secret, "X25519 secret key");
  return subtle.importKey("pkcs8", concat(X25519_PKCS8, secret), "X25519", true, [
    "deriveBits",
  ]);
}

export async function x25519Public(secret) {
  return publicFromPrivate(await xPrivate(secret));
}

/** X25519 Diffie-Hellman; UnsealError on an invalid or low-order public key. */
export async function x25519Shared(secret, peerPublic) {
  let shared;
  try {
    need32(peerPublic, "X25519 public key");
    const peer = await subtle.importKey("raw", peerPublic, "X25519", false, []);
    const bits = await subtle.deriveBits({ name: "X25519", public: peer }, await xPrivate(secret), 256);
    shared = new Uint8Array(bits);
  } catch {
    throw new UnsealError("X25519 exchange failed (invalid or low-order public key)");
  }
  if (equalBytes(shared, new Uint8Array(32))) {
    throw new UnsealError("X25519 exchange failed (invalid or low-order public key)");
  }
  return shared;
}
