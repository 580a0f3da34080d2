import assert from "node:assert/strict";
import { test } from "node:test";
import * as c from "../src/crypto/index.js";
import { vectors } from "./vectors.js";

test("base64url as phr.crypto.signing", () => {
  for (const { hex, b64u } of vectors("base64url").cases) {
    assert.equal(c.b64uEncode(c.fromHex(hex)), b64u);
    assert.equal(c.toHex(c.b64uDecode(b64u)), hex);
  }
  assert.throws(() => c.b64uDecode("ab+/"), c.FormatError);
  assert.throws(() => c.b64uDecode("a"), c.FormatError);
});

test("canonical JSON as phr.crypto.canonical (RFC 8785)", () => {
  for (const { input_json, canonical } of vectors("canonical").cases) {
    assert.equal(c.canonicalJsonText(JSON.parse(input_json)), canonical);
    assert.equal(c.fromUtf8(c.canonicalJson(JSON.parse(input_json))), canonical);
  }
  assert.throws(() => c.canonicalJson({ a: "\ud800" }), c.FormatError);
  assert.throws(() => c.canonicalJson([Number.NaN]), c.FormatError);
});
