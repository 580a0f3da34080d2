// RFC 8785 (JCS) canonical JSON, the bytes phr.crypto.canonical.canonical_json gives.

import { FormatError, utf8 } from "./bytes.js";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function str(s) {
  if (LONE_SURROGATE.test(s)) throw new FormatError("lone surrogate in a string");
  // JSON.stringify escapes exactly as JCS: the short forms, \u00xx in lower case for
  // other control characters, every other code point as itself.
  return JSON.stringify(s);
}

function num(n) {
  if (typeof n === "bigint") {
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError("integer beyond 2**53 - 1");
    }
    return n.toString();
  }
  if (!Number.isFinite(n)) throw new FormatError("NaN and infinities have no JSON form");
  // ECMAScript's Number-to-string is the serialisation JCS prescribes.
  return JSON.stringify(n);
}

function ser(v, depth) {
  if (depth > 1000) throw new FormatError("JSON nested too deeply");
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
    case "bigint":
      return num(v);
    case "string":
      return str(v);
    case "object":
      if (Array.isArray(v)) return `[${v.map((x) => ser(x, depth + 1)).join(",")}]`;
      if (v instanceof Uint8Array) throw new FormatError("bytes have no JSON form");
      return `{${Object.keys(v)
        .filter((k) => v[k] !== undefined)
        .sort() // UTF-16 code unit order, as JCS asks
        .map((k) => `${str(k)}:${ser(v[k], depth + 1)}`)
        .join(",")}}`;
    default:
      throw new FormatError(`a ${typeof v} has no JSON form`);
  }
}

/** The canonical JSON text of a JSON-compatible value. */
export function canonicalJsonText(value) {
  return ser(value, 0);
}

/** The canonical UTF-8 bytes of a JSON-compatible value. */
export function canonicalJson(value) {
  return utf8(ser(value, 0));
}
