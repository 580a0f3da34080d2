// FHIR Bundles as phr.fhir does them: validation, segmentation, keywords and merging.
//
// Segment payload (the plaintext that gets encrypted):
//   {"format": "phr-fhir-segment", "version": 1, "segment": "labs",
//    "bundle_type": "transaction", "entries": [{"index": 3, "entry": {...}}, ...]}
//
// Validation runs the Bundle-level and required-binding rules of phr.fhir.r4 and the
// resource-type and entry checks of phr.fhir.validate (tables from the Python code,
// fhir_tables.js), then phr.fhir.schema's checks with its very JSON Schema (HL7's R4
// schema and its additions, fhir_schema.js, generated): every element at every depth,
// its JSON type and pattern, required elements, choices ([x]), required bindings. The
// validator is @cfworker/json-schema, which interprets the schema (no eval: the page's
// CSP allows none).

import { Validator } from "@cfworker/json-schema";
import { fromUtf8, utf8 } from "./bytes.js";
import { BundleInvalid } from "./errors.js";
import {
  BUNDLE_TYPES,
  CODE_SYSTEMS,
  HTTP_VERBS,
  R4B_ONLY_TYPES,
  R4_RESOURCE_TYPES,
  REQUIRED_CODES,
  REQUIRED_CONCEPTS,
  RESOURCE_SEGMENT,
  SEGMENTS,
  STOP_WORDS,
} from "./fhir_tables.js";
import { R4_SCHEMA } from "./fhir_schema.js";
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
  Object.assign(err, { entry, resourceType, resourceId, field, detail: message });
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

function checkResource(resource, entry, { elements = true } = {}) {
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
  if (elements) checkElements(resource, at);
}

// One validator for the page's life, built on first use; short-circuit: the first failure.
let schemaValidator = null;
const validator = () => (schemaValidator ??= new Validator(R4_SCHEMA, "7", true));

// A schema failure as phr.fhir.schema words it. The validator lists each failing chain
// outermost first; "false" (a false schema) is an unknown element after
// additionalProperties, else a second type of a choice. The path is the element's after the resource type, list indices left out; a
// Bundle shell's "entry/<i>/..." names the entry.
const BRANCHES = new Set(["properties", "$ref", "allOf", "items", "dependencies", "additionalProperties", "if", "then"]);

function schemaError(units, at) {
  // the innermost unit of the first failing chain (jsonschema-rs reports that one too)
  let index = units.findIndex((u) => !BRANCHES.has(u.keyword));
  if (index < 0) index = units.length - 1;
  const unit = units[index];
  const steps = unit.instanceLocation.replace(/^#\/?/, "").split("/").filter(Boolean)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~")).slice(1);
  let entry = at.entry;
  let rest = steps;
  if (steps[0] === "entry" && steps.length > 1) [entry, rest] = [Number(steps[1]), steps.slice(2)];
  const path = rest.filter((s) => !/^\d+$/.test(s));
  let message = unit.error;
  const missing = /^Instance does not have required property "(.+)"\.$/.exec(unit.error);
  if (unit.keyword === "false") {
    const extra = units[index - 1]?.keyword === "additionalProperties";
    message = extra ? "not an element of FHIR R4" : "a choice element takes one type only ([x])";
  } else if (missing) {
    path.push(missing[1]);
    message = "required element missing";
  }
  return fhirError(message, { ...at, entry, field: path.join(".") || undefined });
}

function checkSchema(resource, at) {
  const result = validator().validate({ [resource.resourceType]: resource });
  if (!result.valid) throw schemaError(result.errors, at);
}

function checkElements(resource, at) {
  checkSchema(resource, at);
  for (const inner of resource.contained ?? []) {
    try {
      checkResource(inner);
    } catch (exc) {
      if (!(exc instanceof BundleInvalid)) throw exc;
      const field = "contained" + (exc.field ? `.${exc.field}` : "");
      throw fhirError(exc.detail, { ...at, field });
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
    checkResource(resource, i, { elements: false });
  });
  // then as phr.fhir.schema.check_bundle: the Bundle and its entries without their
  // resources by the schema, then each resource by its own definition
  const shell = { ...bundle };
  if (entries.length) shell.entry = entries.map(({ resource, ...rest }) => rest);
  checkSchema(shell, { resourceType: "Bundle", resourceId: bundle.id });
  entries.forEach(({ resource }, i) => {
    checkElements(resource, { entry: i, resourceType: resource.resourceType, resourceId: resource.id });
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
