// The passphrase keystore of phr.crypto.keystore (scrypt + AES-256-GCM), both directions.
//
//   {"format": "phr-keystore", "version": 1,
//    "kdf": {"alg": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": b64u (16 B)},
//    "aead": {"alg": "AES-256-GCM", "nonce": b64u (12 B)},
//    "ciphertext": b64u}
//
// The plaintext is the key export (see keys.js); the AAD is the canonical JSON of every
// field but "ciphertext", so the KDF parameters cannot be swapped.

import { scryptAsync } from "@noble/hashes/scrypt.js";
import { b64uDecode, b64uEncode, fromUtf8, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { IntegrityError, KeystoreError, WrongPassphrase } from "./errors.js";
import { exportSecretKeys, importSecretKeys } from "./keys.js";
import { aesGcmDecrypt, aesGcmEncrypt, randomBytes } from "./primitives.js";

export const KEYSTORE_FORMAT = "phr-keystore";
export const DEFAULT_SCRYPT_N = 1 << 15;
const MAX_SCRYPT_N = 1 << 20;

function derive(passphrase, salt, n, r, p, onProgress) {
  const opts = { N: n, r, p, dkLen: 32, maxmem: 128 * r * (n + p) + 1024, onProgress };
  return scryptAsync(utf8(passphrase), salt, opts);
}

/**
 * The keystore document of a key export. `rand` (n => bytes) is for golden tests;
 * `onProgress` (fraction 0..1) lets a page show the KDF's progress.
 */
export async function encryptKeystore(
  material,
  passphrase,
  { scryptN = DEFAULT_SCRYPT_N, rand = randomBytes, onProgress } = {},
) {
  const plaintext = canonicalJson(exportSecretKeys(await importSecretKeys(material)));
  const head = {
    format: KEYSTORE_FORMAT,
    version: 1,
    kdf: { alg: "scrypt", n: scryptN, r: 8, p: 1, salt: b64uEncode(rand(16)) },
    aead: { alg: "AES-256-GCM", nonce: b64uEncode(rand(12)) },
  };
  const key = await derive(passphrase, b64uDecode(head.kdf.salt), scryptN, 8, 1, onProgress);
  const ct = await aesGcmEncrypt(key, b64uDecode(head.aead.nonce), plaintext, canonicalJson(head));
  return { ...head, ciphertext: b64uEncode(ct) };
}

/** The key export inside a keystore; WrongPassphrase for a wrong passphrase or tampering. */
export async function decryptKeystore(doc, passphrase, { onProgress } = {}) {
  let key, nonce, ct, head;
  try {
    head = { format: doc.format, version: doc.version, kdf: doc.kdf, aead: doc.aead };
    const { kdf, aead } = head;
    const ok =
      head.format === KEYSTORE_FORMAT &&
      head.version === 1 &&
      kdf.alg === "scrypt" &&
      aead.alg === "AES-256-GCM" &&
      Number.isInteger(kdf.n) &&
      2 <= kdf.n &&
      kdf.n <= MAX_SCRYPT_N &&
      Number.isInteger(kdf.r) &&
      Number.isInteger(kdf.p) &&
      kdf.r * kdf.p <= 64;
    if (!ok) throw new KeystoreError("unsupported keystore format or parameters");
    nonce = b64uDecode(aead.nonce);
    ct = b64uDecode(doc.ciphertext);
    key = await derive(passphrase, b64uDecode(kdf.salt), kdf.n, kdf.r, kdf.p, onProgress);
  } catch (exc) {
    if (exc instanceof KeystoreError) throw exc;
    throw new KeystoreError("malformed keystore");
  }
  let plaintext;
  try {
    plaintext = await aesGcmDecrypt(key, nonce, ct, canonicalJson(head));
  } catch (exc) {
    if (exc instanceof IntegrityError) {
      throw new WrongPassphrase("wrong passphrase or tampered keystore");
    }
    throw new KeystoreError("malformed keystore");
  }
  let parsed;
  try {
    parsed = JSON.parse(fromUtf8(plaintext));
  } catch {
    throw new KeystoreError("malformed key export");
  }
  return importSecretKeys(parsed);
}

/** The keystore as the file text `phr` writes (indented JSON and a newline). */
export function keystoreFileText(doc) {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Parse the text of a keystore file; KeystoreError if it is not one. */
export function parseKeystoreFile(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KeystoreError("cannot read keystore: not JSON");
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new KeystoreError("malformed keystore");
  }
  return doc;
}
