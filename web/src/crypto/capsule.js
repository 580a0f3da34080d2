// Key capsules ("PHRC" version 1) of phr.crypto.pre: an Umbral capsule and the 64-byte
// segment secret (data key || search key) wrapped under it.
//
//   "PHRC" | 1 | len(capsule) u16 BE | capsule (Umbral toBytes) | wrapped

import { b64uDecode, b64uEncode, concat, equalBytes, u16be, utf8 } from "./bytes.js";
import { CapsuleOpenError, FormatError } from "./errors.js";
import { randomBytes } from "./primitives.js";
import { umbral } from "./umbral.js";

const MAGIC = utf8("PHRC");

export function capsuleToBytes({ capsule, wrapped }) {
  return concat(MAGIC, new Uint8Array([1]), u16be(capsule.length), capsule, wrapped);
}

/** Split a key capsule into {capsule, wrapped} (bytes); FormatError if it is not one. */
export async function capsuleFromBytes(raw) {
  if (raw.length < 7) throw new FormatError("key capsule too short");
  const n = (raw[5] << 8) | raw[6];
  if (!equalBytes(raw.subarray(0, 4), MAGIC) || raw[4] !== 1 || raw.length < 7 + n) {
    throw new FormatError("not a version-1 key capsule");
  }
  const capsule = raw.slice(7, 7 + n);
  try {
    (await umbral()).Capsule.fromBytes(capsule).free();
  } catch {
    throw new FormatError("malformed Umbral capsule");
  }
  return { capsule, wrapped: raw.slice(7 + n) };
}

async function publicKey(b64) {
  try {
    return (await umbral()).PublicKey.fromCompressedBytes(b64uDecode(b64));
  } catch {
    throw new FormatError("not an Umbral public key");
  }
}

/** Wrap bytes to an Umbral public key (base64url): the capsule as base64url. */
export async function sealToKey(publicB64, plaintext) {
  const u = await umbral();
  const pk = await publicKey(publicB64);
  const [capsule, wrapped] = u.encrypt(pk, plaintext);
  const out = b64uEncode(capsuleToBytes({ capsule: capsule.toBytes(), wrapped }));
  capsule.free();
  pk.free();
  return out;
}

/** Open a capsule (base64url) with an Umbral secret key object. */
export async function openWithKey(secretKey, capsuleB64) {
  const u = await umbral();
  const { capsule, wrapped } = await capsuleFromBytes(b64uDecode(capsuleB64));
  const parsed = u.Capsule.fromBytes(capsule);
  try {
    return u.decryptOriginal(secretKey, parsed, wrapped);
  } catch {
    throw new CapsuleOpenError("capsule does not open with this key");
  } finally {
    parsed.free();
  }
}

/** A fresh segment secret: {data_key, search_key} (the search key given, or fresh). */
export function newSegmentSecret({ searchKey = null, rand = randomBytes } = {}) {
  const dataKey = rand(32);
  return { data_key: dataKey, search_key: searchKey ?? rand(32) };
}

export function secretToBytes({ data_key, search_key }) {
  return concat(data_key, search_key);
}

export function secretFromBytes(raw) {
  if (raw.length !== 64) throw new CapsuleOpenError("capsule holds no segment secret");
  return { data_key: raw.slice(0, 32), search_key: raw.slice(32) };
}
