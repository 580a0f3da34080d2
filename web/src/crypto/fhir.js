// FHIR Bundles as phr.fhir does them: validation, segmentation, keywords and merging.
//
// Segment payload (the plaintext that gets encrypted):
//   {"format": "phr-fhir-segment", "version": 1, "segment": "labs",
//    "bundle_type": "transaction", "entries": [{"index": 3, "entry": {...}}, ...]}
//
// Validation runs the Bundle-level and required-binding rules of phr.fhir.r4 and the
// resource-type and entry checks of phr.fhir.validate; the tables come from the Python
// code (fhir_tables.js, generated), and each resource's top-level elements against its
// fhir.resources R4B model (unknown elements, lists, JSON types and patterns of
// primitives, required elements). Not ported: the check of nested elements.

import { fromUtf8, utf8 } from "./bytes.js";
import { BundleInvalid } from "./errors.js";
import {
  BUNDLE_TYPES,
  CODE_SYSTEMS,
  HTTP_VERBS,
  R4B_ONLY_TYPES,
  R4_ELEMENTS,
  R4_RESOURCE_TYPES,
  REQUIRED_CODES,
  REQUIRED_CONCEPTS,
  RESOURCE_SEGMENT,
  SEGMENTS,
  STOP_WORDS,
} from "./fhir_tables.js";
import { normaliseKeyword, trapdoor } from "./search.js";

export { SEGMENTS };
export const PAYLOAD_FORMAT = "phr-fhir-segment";
const KNOWN = new Set(R4_RESOURCE_TYPES);
const R4B_ONLY = new Set(R4B_ONLY_TYPES);
const STOP = new Set(STOP_WORDS);
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const repr = (v) => (typeof v === "string" ? `'${v}'` : v === null || v === undefined ? "None" : JSON.stringify(v));

/** A BundleInvalid whose message names entry, resource and field as the Python error does. */
export function fhirError(message, { entry, resourceType, resourceId, field } = {}) {
  const where = [];
  if (entry !== undefined && entry !== null) where.push(`entry[${entry}]`);
  if (resourceType !== undefined && resourceType !== null) {
    where.push(`${resourceType}/${resourceId || "?"}`);
  }
  if (field) where.push(`field '${field}'`);
  const err = new BundleInvalid(where.length ? `${where.join(" ")}: ${message}` : message);
  Object.assign(err, { entry, resourceType, resourceId, field });
  return err;
}

/** The segment of a resource type; "other" for any type not listed. */
export function segmentFor(resourceType) {
  return RESOURCE_SEGMENT[resourceType] ?? "other";
}

function* values(node, path) {
  if (Array.isArray(node)) {
    for (const item of node) yield* values(item, path);
    return;
  }
  if (!isObj(node)) return;
  const value = node[path[0]];
  if (value === undefined || value === null) return;
  if (path.length === 1) {
    if (Array.isArray(value)) yield* value;
    else yield value;
  } else {
    yield* values(value, path.slice(1));
  }
}

function checkResource(resource, entry) {
  if (!isObj(resource) || typeof resource.resourceType !== "string") {
    throw fhirError("resource without a resourceType", { entry });
  }
  const resourceType = resource.resourceType;
  const resourceId = resource.id;
  const at = { entry, resourceType, resourceId };
  if (R4B_ONLY.has(resourceType)) {
    throw fhirError("resource type of FHIR R4B, not R4 (4.0.1)", at);
  }
  if (!KNOWN.has(resourceType)) throw fhirError("unknown FHIR R4 resource type", at);
  if (resourceId !== undefined && (typeof resourceId !== "string" || !ID.test(resourceId))) {
    throw fhirError("an id is 1-64 of A-Z a-z 0-9 - .", { ...at, field: "id" });
  }
  for (const [path, allowed] of REQUIRED_CODES[resourceType] ?? []) {
    for (const value of values(resource, path.split("."))) {
      if (!allowed.includes(value)) {
        const msg = `${repr(value)} is not in the required value set (${allowed.join(", ")})`;
        throw fhirError(msg, { ...at, field: path });
      }
    }
  }
  for (const [path, system, allowed] of REQUIRED_CONCEPTS[resourceType] ?? []) {
    for (const coding of values(resource, [path, "coding"])) {
      if (isObj(coding) && coding.system === system && !allowed.includes(coding.code)) {
        const msg = `${repr(coding.code)} is not a code of ${system} (required binding)`;
        throw fhirError(msg, { ...at, field: `${path}.coding.code` });
      }
    }
  }
  checkElements(resource, at);
}

const PATTERNS = R4_ELEMENTS.patterns.map((p) => new RegExp(p));
const JSON_TYPES = {
  s: ["string", (v) => typeof v === "string"],
  b: ["boolean", (v) => typeof v === "boolean"],
  i: ["integer", Number.isInteger],
  n: ["number", (v) => typeof v === "number" && Number.isFinite(v)],
  o: ["object", isObj],
};

// The top-level elements of a resource as its R4B model declares them: no unknown
// element, lists where the model has lists, the JSON type and pattern of primitives,
// the required elements and required choices ([x]). Nested elements are not checked.
function checkElements(resource, at) {
  const spec = R4_ELEMENTS.types[resource.resourceType];
  const fail = (field, msg) => {
    throw fhirError(msg, { ...at, field });
  };
  for (const [name, value] of Object.entries(resource)) {
    if (name === "resourceType" || value === null) continue;
    const f = spec.fields[name];
    if (!f) fail(name, "Extra inputs are not permitted");
    const [kind, pattern, isList] = f;
    if (isList && !Array.isArray(value)) fail(name, "Input should be a valid list");
    if (!isList && Array.isArray(value)) fail(name, `Input should be a valid ${JSON_TYPES[kind][0]}`);
    for (const item of isList ? value : [value]) {
      if (item === null && name.startsWith("_")) continue;
      if (!JSON_TYPES[kind][1](item)) fail(name, `Input should be a valid ${JSON_TYPES[kind][0]}`);
      if (pattern >= 0 && !PATTERNS[pattern].test(item)) {
        fail(name, `String should match pattern '${R4_ELEMENTS.patterns[pattern]}'`);
      }
    }
  }
  for (const name of spec.required) {
    if (resource[name] === undefined || resource[name] === null) fail(name, "Field required");
  }
  for (const [group, names] of Object.entries(spec.choices)) {
    if (!names.some((n) => resource[n] !== undefined && resource[n] !== null)) {
      fail(`${group}[x]`, `one of ${names.join(", ")} is required`);
    }
  }
}

/** Throw BundleInvalid unless `bundle` passes the checks named above. */
export function validateBundle(bundle) {
  if (!isObj(bundle) || bundle.resourceType !== "Bundle") {
    throw fhirError("not a FHIR Bundle", { resourceType: "Bundle" });
  }
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) {
    throw fhirError("entry is not a list", { resourceType: "Bundle", field: "entry" });
  }
  const btype = bundle.type;
  if (!BUNDLE_TYPES.includes(btype)) {
    const msg = `${repr(btype)} is not a Bundle type of R4`;
    throw fhirError(msg, { resourceType: "Bundle", field: "type" });
  }
  const seen = new Map();
  entries.forEach((entry, i) => {
    if (!isObj(entry) || !("resource" in entry)) {
      throw fhirError("entry without a resource", { entry: i });
    }
    const resource = entry.resource;
    const resourceType = isObj(resource) ? resource.resourceType : undefined;
    if (btype === "transaction" || btype === "batch") {
      const request = entry.request;
      if (!isObj(request) || !request.url) {
        const msg = `a ${btype} entry needs request (method and url)`;
        throw fhirError(msg, { entry: i, resourceType, field: "request" });
      }
      if (!HTTP_VERBS.includes(request.method)) {
        const msg = `request.method ${repr(request.method)} is not an HTTP verb of R4`;
        throw fhirError(msg, { entry: i, resourceType, field: "request.method" });
      }
    }
    const fullUrl = entry.fullUrl;
    if (typeof fullUrl === "string" && btype !== "history") {
      const meta = isObj(resource) ? resource.meta : undefined;
      const version = isObj(meta) && meta.versionId !== undefined ? meta.versionId : null;
      const versions = seen.get(fullUrl) ?? new Set();
      seen.set(fullUrl, versions);
      if (versions.size && (version === null || versions.has(null) || versions.has(version))) {
        const msg = `fullUrl ${repr(fullUrl)} appears twice in the Bundle`;
        throw fhirError(msg, { entry: i, resourceType, field: "fullUrl" });
      }
      versions.add(version);
    }
    checkResource(resource, i);
  });
}

/** Segment name -> payload, for the segments that have at least one resource. */
export function splitBundle(bundle, { validate = true } = {}) {
  if (validate) validateBundle(bundle);
  const btype = bundle.type ?? "collection";
  const out = {};
  (bundle.entry ?? []).forEach((entry, index) => {
    const seg = segmentFor(entry.resource.resourceType);
    out[seg] ??= { format: PAYLOAD_FORMAT, version: 1, segment: seg, bundle_type: btype, entries: [] };
    out[seg].entries.push({ index, entry });
  });
  return out;
}

export function payloadToBytes(payload) {
  return utf8(JSON.stringify(payload));
}

export function payloadFromBytes(raw) {
  let payload;
  try {
    payload = JSON.parse(fromUtf8(raw));
  } catch {
    throw fhirError("segment payload is not JSON");
  }
  if (!isObj(payload) || payload.format !== PAYLOAD_FORMAT) {
    throw fhirError("not a FHIR segment payload");
  }
  if (payload.version !== 1) {
    throw fhirError(`unsupported segment payload version ${payload.version}`);
  }
  return payload;
}

/** A Bundle of the entries of the given payloads, in source order (merge_segments). */
export function mergeSegments(payloads, { bundleId = null, validate = true } = {}) {
  const entries = [];
  const types = new Set();
  for (const p of payloads) {
    types.add(p.bundle_type);
    for (const e of p.entries) entries.push([e.index, e.entry]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  const bundle = { resourceType: "Bundle", type: types.size === 1 ? [...types][0] : "collection" };
  if (bundleId !== null) bundle.id = bundleId.replace(/[^A-Za-z0-9\-.]/g, "-").slice(0, 64);
  let list = entries.map(([, e]) => e);
  if (bundle.type === "collection") {
    list = list.map(({ request, response, ...rest }) => rest);
  }
  bundle.entry = list;
  if (validate) validateBundle(bundle);
  return bundle;
}

// Keywords (phr.fhir.keywords): codes as <system>:<code>, words of display and text.

export function codeKeyword(system, code) {
  const short = CODE_SYSTEMS[system];
  return normaliseKeyword(short ? `${short}:${code}` : `${system}|${code}`);
}

export function* words(text) {
  for (const [word] of normaliseKeyword(text).matchAll(/[\p{L}\p{N}]+/gu)) {
    if ([...word].length >= 3 && !/^\p{Nd}+$/u.test(word) && !STOP.has(word)) yield word;
  }
}

function collect(root, codes, texts) {
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === "object") stack.push(item);
    } else if (isObj(node)) {
      if (typeof node.system === "string" && typeof node.code === "string") {
        codes.add(JSON.stringify([node.system, node.code]));
      }
      for (const [key, value] of Object.entries(node)) {
        if (typeof value === "string") {
          if (key === "display" || key === "text") texts.add(value);
        } else if (value !== null && typeof value === "object" && key !== "data" && key !== "div") {
          stack.push(value);
        }
      }
    }
  }
}

/** Every keyword (codes and words) of the given resources, normalised. */
export function extractKeywords(resources) {
  const codes = new Set();
  const texts = new Set();
  for (const r of resources) collect(r, codes, texts);
  const out = new Set([...codes].map((c) => codeKeyword(...JSON.parse(c))));
  for (const t of texts) for (const w of words(t)) out.add(w);
  return out;
}

export function payloadKeywords(payload) {
  return extractKeywords(payload.entries.map((e) => e.entry.resource));
}

/** Query term -> trapdoor (phr.client.search.trapdoors_for): codes and free-text words. */
export async function trapdoorsFor(searchKey, terms) {
  const out = {};
  for (const term of terms) {
    if (term.includes("|")) {
      const at = term.indexOf("|");
      out[term] = await trapdoor(searchKey, codeKeyword(term.slice(0, at), term.slice(at + 1)));
    } else if (term.includes(":") && !term.trim().includes(" ")) {
      out[term] = await trapdoor(searchKey, term);
    } else {
      for (const word of words(term)) out[`${term}/${word}`] = await trapdoor(searchKey, word);
    }
  }
  return out;
}
