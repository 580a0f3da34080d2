import assert from "node:assert/strict";
import { test } from "node:test";
import * as c from "../src/crypto/index.js";
import { vectors } from "./vectors.js";

test("system parameters verified and pinned as phr.identity.params", async () => {
  const v = vectors("params");
  for (const k of v.cases) {
    const doc = v.documents[k.document];
    if (k.ok) {
      const { params, pin } = await c.verifyParams(doc, k.pin);
      assert.deepEqual(params, doc.params);
      assert.equal(pin.kgc_public, k.pin_after.kgc_public);
      assert.equal(pin.issued_at, doc.params.issued_at);
    } else {
      await assert.rejects(c.verifyParams(doc, k.pin), (e) => {
        assert.ok(e instanceof c.ParamsInvalid, e.name);
        assert.match(e.message, new RegExp(k.error));
        return true;
      });
    }
  }
});

test("malformed parameter documents are refused with ParamsInvalid", async () => {
  const good = vectors("params").documents.new;
  const extra = structuredClone(good);
  extra.params.extra = 1;
  for (const bad of ["{", {}, { ...good, more: 1 }, extra, { ...good, signature: 5 }]) {
    await assert.rejects(c.verifyParams(bad, null), c.ParamsInvalid);
  }
  assert.ok((await c.verifyParams(JSON.stringify(good), null)).pin);
});
