// Detached Ed25519 signatures over canonical JSON documents (phr.crypto.documents), and
// the strict shape checks that stand in for the Python side's pydantic models.

import { b64uDecode } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { SignatureInvalid } from "./errors.js";
import { ed25519Verify } from "./primitives.js";

/** Raise SignatureInvalid unless signatureB64 signs the document under the b64u key. */
export async function verifyDocument(publicB64, document, signatureB64) {
  let key, sig;
  try {
    key = b64uDecode(publicB64);
    sig = b64uDecode(signatureB64);
  } catch {
    throw new SignatureInvalid("malformed signature or key");
  }
  await ed25519Verify(key, sig, canonicalJson(document));
}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Check `value` against `fields` (name -> predicate or [predicate, default]) with no
 * extra field allowed; returns the value with defaults filled. Throws `Err(message)`.
 */
export function checkShape(value, fields, Err, where = "document") {
  if (!isObj(value)) throw new Err(`${where} is not an object`);
  for (const k of Object.keys(value)) {
    if (!(k in fields)) throw new Err(`${where} has an unexpected field ${k}`);
  }
  const out = {};
  for (const [k, spec] of Object.entries(fields)) {
    const [ok, ...dflt] = Array.isArray(spec) ? spec : [spec];
    if (value[k] === undefined && dflt.length) {
      out[k] = dflt[0];
      continue;
    }
    if (!ok(value[k])) throw new Err(`${where}.${k} is missing or malformed`);
    out[k] = value[k];
  }
  return out;
}

export const is = {
  str: (v) => typeof v === "string",
  optStr: (v) => v === null || v === undefined || typeof v === "string",
  int: (min) => (v) => Number.isInteger(v) && v >= min,
  hex64: (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v),
  eq: (x) => (v) => v === x,
  obj: isObj,
  list: (pred) => (v) => Array.isArray(v) && v.every(pred),
};
