// The KGC's signed system parameters: verify and pin as phr.identity.params does.
//
// A client pins the KGC key on first use and from then on accepts only documents signed
// by that key whose issued_at does not go backwards. Pure: the caller fetches the
// document and stores the pin ({"kgc_public", "issued_at"}, ParamsPin's JSON).

import { b64uDecode } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { ParamsInvalid } from "./errors.js";
import { fingerprint } from "./keys.js";
import { ed25519Verify } from "./primitives.js";

export const PARAMS_VERSION = 1;

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function shape(value, where, fields) {
  if (!isObj(value)) throw new ParamsInvalid(`not system parameters: ${where} is not an object`);
  const out = {};
  for (const k of Object.keys(value)) {
    if (!(k in fields)) throw new ParamsInvalid(`not system parameters: extra field ${where}.${k}`);
  }
  for (const [k, check] of Object.entries(fields)) out[k] = check(value[k], `${where}.${k}`);
  return out;
}

const fail = (where, what) => {
  throw new ParamsInvalid(`not system parameters: ${where} must be ${what}`);
};
const str = (v, w) => (typeof v === "string" ? v : fail(w, "a string"));
const optStr = (v, w) => (v === undefined || v === null ? null : str(v, w));
const int = (min) => (v, w) => (Number.isInteger(v) && v >= min ? v : fail(w, `an integer >= ${min}`));
const dflt = (d, check) => (v, w) => (v === undefined ? d : check(v, w));
const list = (check) => (v, w) => (Array.isArray(v) ? v.map((x, i) => check(x, `${w}[${i}]`)) : fail(w, "a list"));

// RFC 3339 with an offset (pydantic's AwareDatetime), as microseconds since the epoch.
const AWARE = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

export function awareMicros(text) {
  const m = typeof text === "string" && AWARE.exec(text);
  if (!m) throw new ParamsInvalid(`not system parameters: ${text} is not a timezone-aware time`);
  const [, day, hh, mm, ss = "00", frac = "", tz] = m;
  const zone = tz.toUpperCase() === "Z" ? "Z" : `${tz.slice(0, 3)}:${tz.slice(-2)}`;
  const ms = Date.parse(`${day}T${hh}:${mm}:${ss}${zone}`);
  if (Number.isNaN(ms)) throw new ParamsInvalid(`not system parameters: bad time ${text}`);
  return BigInt(ms) * 1000n + BigInt(frac.padEnd(6, "0"));
}

const aware = (v, w) => (awareMicros(v), str(v, w));
const published = (v, w) => shape(v, w, { ed25519_public: str, fingerprint: str, url: optStr });
const node = (v, w) => shape(v, w, { id: str, url: str, x25519_public: str, ed25519_public: str });

function parse(doc) {
  let signed = doc;
  if (typeof doc === "string" || doc instanceof Uint8Array) {
    try {
      signed = JSON.parse(typeof doc === "string" ? doc : new TextDecoder().decode(doc));
    } catch {
      throw new ParamsInvalid("not system parameters: not JSON");
    }
  }
  return shape(signed, "document", {
    params: (v, w) =>
      shape(v, w, {
        version: dflt(PARAMS_VERSION, int(0)),
        issued_at: aware,
        kgc: published,
        token: (t, tw) =>
          shape(t, tw, {
            alg: dflt("EdDSA", str),
            issuer: dflt("kgc", str),
            audience: dflt("phr", str),
            ttl_s: int(Number.MIN_SAFE_INTEGER),
          }),
        srs: (s, sw) => shape(s, sw, { threshold: int(1), nodes: list(node) }),
        ledger: (l, lw) => (l === null ? null : published(l, lw)),
        services: (s, sw) => {
          if (!isObj(s)) fail(sw, "an object");
          return Object.fromEntries(Object.entries(s).map(([k, x]) => [k, published(x, `${sw}.${k}`)]));
        },
        segments: list(str),
      }),
    signature: str,
  });
}

/**
 * Verify a fetched parameters document against a pin (null: first use, pin the
 * document's own key). Returns {params, pin}; ParamsInvalid for anything wrong.
 */
export async function verifyParams(document, pin) {
  const { params, signature } = parse(document);
  if (params.version !== PARAMS_VERSION) {
    throw new ParamsInvalid(`unsupported parameters version ${params.version}`);
  }
  const key = pin ? pin.kgc_public : params.kgc.ed25519_public;
  if (params.kgc.ed25519_public !== key) {
    throw new ParamsInvalid("parameters name another KGC key than the pinned one");
  }
  try {
    await ed25519Verify(b64uDecode(key), b64uDecode(signature), canonicalJson(params));
  } catch {
    throw new ParamsInvalid("bad signature on the system parameters");
  }
  if (params.kgc.fingerprint !== (await fingerprint(key))) {
    throw new ParamsInvalid("KGC fingerprint does not match its key");
  }
  if (pin?.issued_at && awareMicros(params.issued_at) < awareMicros(pin.issued_at)) {
    throw new ParamsInvalid("parameters older than ones already accepted (rollback)");
  }
  if (params.srs.threshold > Math.max(params.srs.nodes.length, 1)) {
    throw new ParamsInvalid("SRS threshold above the number of nodes");
  }
  return { params, pin: { kgc_public: key, issued_at: params.issued_at } };
}
