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

/**
 * Check a signed document {<body>: {..., author}, signature}: its shape (`fields`, see
 * checkShape), its author (expectedAuthor if given) and the signature by that author.
 * Returns the document; SignatureInvalid for anything wrong.
 */
export async function verifySigned(signed, { body, fields, what, expectedAuthor = null }) {
  let doc;
  try {
    checkShape(signed, { [body]: isObj, signature: is.str }, SignatureInvalid, `signed ${what}`);
    doc = checkShape(signed[body], fields, SignatureInvalid, what);
  } catch (exc) {
    throw new SignatureInvalid(`malformed signed ${what}: ${exc.message}`);
  }
  if (expectedAuthor !== null && doc.author !== expectedAuthor) {
    throw new SignatureInvalid(`${what} signed by an unexpected author`);
  }
  await verifyDocument(doc.author, signed[body], signed.signature);
  return doc;
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
