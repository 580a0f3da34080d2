import assert from "node:assert/strict";
import { test } from "node:test";
import * as c from "../src/crypto/index.js";
import { vectors } from "./vectors.js";

const hex = c.fromHex;

test("FHIR split and keywords as phr.fhir.split and phr.fhir.keywords", () => {
  const v = vectors("fhir");
  const split = c.splitBundle(v.bundle);
  assert.deepEqual(Object.keys(split).sort(), Object.keys(v.segments).sort());
  for (const [name, want] of Object.entries(v.segments)) {
    assert.deepEqual(split[name], want.payload);
    assert.deepEqual([...c.payloadKeywords(split[name])].sort(), want.keywords);
    assert.deepEqual(c.payloadFromBytes(c.payloadToBytes(split[name])), want.payload);
  }
  const merged = c.mergeSegments(Object.values(split), { bundleId: "r_1" });
  assert.deepEqual(merged.entry, v.bundle.entry);
});

test("FHIR validation refuses what phr.fhir refuses, with the same message", () => {
  for (const bad of vectors("fhir").invalid) {
    assert.throws(() => c.validateBundle(bad.bundle), (e) => {
      assert.ok(e instanceof c.BundleInvalid, `${bad.name}: ${e}`);
      if (bad.error !== null) assert.equal(e.message, bad.error, bad.name);
      else assert.match(e.message, /^entry\[\d+\] /, bad.name);
      return true;
    });
  }
});

test("FHIR JSON types to the letter: what pydantic's lax mode would coerce is refused", () => {
  for (const bad of vectors("fhir").stricter) assert.throws(() => c.validateBundle(bad.bundle), c.BundleInvalid, bad.name);
});

test("the sample Synthea Bundle Python accepts passes in the page too", async () => {
  const { gunzipSync } = await import("node:zlib");
  const { readFileSync } = await import("node:fs");
  const raw = readFileSync(new URL("../../shared/src/phr/fhir/data/sample_bundle.json.gz", import.meta.url));
  const bundle = JSON.parse(gunzipSync(raw));
  c.validateBundle(bundle);
  const split = c.splitBundle(bundle);
  assert.equal(Object.values(split).reduce((n, p) => n + p.entries.length, 0), bundle.entry.length);
});

test("search keywords, trapdoors and tags as phr.crypto.search", async () => {
  const v = vectors("search");
  const key = hex(v.search_key);
  for (const k of v.keywords) {
    assert.equal(c.normaliseKeyword(k.keyword), k.normalised, JSON.stringify(k.keyword));
    assert.equal(await c.trapdoor(key, k.keyword), k.trapdoor);
  }
  assert.deepEqual(await c.keywordTags(key, v.keywords.map((k) => k.keyword)), v.tags);
  assert.deepEqual(await c.trapdoorsFor(key, v.terms), v.trapdoors_for);
});

test("segment cipher: the bytes phr.crypto.stream writes, and back", async () => {
  const v = vectors("stream");
  const key = hex(v.data_key);
  for (const k of v.cases) {
    const rand = () => hex(k.nonce_prefix);
    const enc = await c.encryptSegment(key, k.context, hex(k.plaintext), { chunkSize: k.chunk_size, rand });
    assert.equal(c.toHex(enc.ciphertext), k.ciphertext);
    assert.equal(c.toHex(enc.sha256), k.sha256);
    const ct = hex(k.ciphertext);
    const plain = await c.decryptSegment(key, k.context, ct, { expectedSha256: hex(k.sha256) });
    assert.equal(c.toHex(plain), k.plaintext);
    const other = { ...k.context, key_version: k.context.key_version + 1 };
    await assert.rejects(c.decryptSegment(key, other, ct), c.IntegrityError);
    if (ct.length > 19 + 16 + 16) {
      await assert.rejects(c.decryptSegment(key, k.context, ct.subarray(0, ct.length - 16 - 3)), c.IntegrityError);
    }
  }
});

test("sealing to an SRS node: the envelopes of phr.crypto.seal", async () => {
  for (const k of vectors("seal").cases) {
    const env = await c.seal(c.b64uDecode(k.node.x25519_public), hex(k.plaintext), {
      nodeId: k.node.id,
      grantId: k.grant_id,
      ephemeral: c.b64uDecode(k.ephemeral),
    });
    assert.equal(c.toHex(env), k.envelope);
    const opened = await c.unseal(c.b64uDecode(k.node.secret), hex(k.envelope), { nodeId: k.node.id, grantId: k.grant_id });
    assert.equal(c.toHex(opened), k.plaintext);
    await assert.rejects(
      c.unseal(c.b64uDecode(k.node.secret), hex(k.envelope), { nodeId: "srs-x", grantId: k.grant_id }),
      c.UnsealError,
    );
  }
});

test("the patient's own record written by Python opens in the page", async () => {
  const v = vectors("record");
  const cts = Object.fromEntries(Object.entries(v.ciphertexts).map(([n, h]) => [n, hex(h)]));
  const { manifest, bundle } = await c.decryptOwnRecord(v.material, v.signed_manifest, cts);
  assert.equal(manifest.record_id, "r_vector");
  assert.deepEqual(bundle, v.bundle);
  const labs = manifest.segments.find((s) => s.name === "labs");
  assert.equal(labs.key_version, 2);
  const resigned = await c.signManifest(v.material, v.resign.manifest);
  assert.equal(resigned.signature, v.resign.signature);
  const forged = structuredClone(v.signed_manifest);
  forged.manifest.record_id = "r_other";
  await assert.rejects(c.verifyManifest(forged), c.SignatureInvalid);
  const tampered = { ...cts, labs: cts.labs.slice() };
  tampered.labs[40] ^= 1;
  await assert.rejects(c.decryptOwnRecord(v.material, v.signed_manifest, tampered), c.IntegrityError);
});

test("a record encrypted in the page opens again, with the tags Python would make", async () => {
  const v = vectors("record");
  const bundle = vectors("fhir").bundle;
  const rec = await c.encryptRecord(bundle, v.material, {
    patientId: "usr_patient",
    recordId: "r_js",
    recipients: c.ownerRecipients(v.material, { labs: 2 }),
    chunkSize: 256,
  });
  for (const [name, seg] of Object.entries(rec.segments)) assert.deepEqual(seg.tags, v.tags[name]);
  const cts = Object.fromEntries(Object.entries(rec.segments).map(([n, s]) => [n, s.ciphertext]));
  const { bundle: back } = await c.decryptOwnRecord(v.material, rec.signed_manifest, cts);
  assert.deepEqual(back.entry, bundle.entry);
});

test("a grant made by Python verifies, and its sealed kfrags open at their nodes only", async () => {
  const v = vectors("grant");
  const grant = await c.verifyGrant(v.signed_grant);
  assert.equal(grant.threshold, 2);
  assert.equal(grant.verifying_pk, await c.kfragSignerPublic(v.patient));
  assert.equal(grant.delegating_pk, await c.segmentPublicKey(v.patient, "labs", 1));
  for (const node of v.nodes) {
    const env = c.b64uDecode(v.sealed_kfrags[node.id]);
    const raw = await c.unseal(c.b64uDecode(node.secret), env, { nodeId: node.id, grantId: grant.grant_id });
    assert.ok(raw.length > 100);
  }
  const forged = structuredClone(v.signed_grant);
  forged.grant.threshold = 1;
  await assert.rejects(c.verifyGrant(forged), c.SignatureInvalid);
});

test("ledger: inclusion, consistency and checkpoints as phr.ledger", async () => {
  const v = vectors("ledger");
  const key = c.b64uDecode(v.public_key);
  const cp = await c.verifyCheckpoint(v.checkpoint, v.origin, key);
  assert.equal(cp.size, v.size);
  assert.equal(c.toHex(cp.root_hash), v.root);
  assert.equal((await c.verifyCheckpoint(v.cosigned_checkpoint, v.origin, key)).size, v.size);
  await assert.rejects(c.verifyCheckpoint(v.forged_checkpoint, v.origin, key), c.ProofInvalid);
  await assert.rejects(c.verifyCheckpoint(v.checkpoint, "other", key), c.ProofInvalid);
  const trail = await c.verifyAuditTrail(v.trail, v.origin, v.public_key);
  assert.ok(trail.entries.every((e) => e.ok), JSON.stringify(trail.entries.find((e) => !e.ok)));
  const bad = structuredClone(v.trail);
  bad.entries[3].event.n = 99;
  bad.entries[5].hashes.pop();
  const marked = await c.verifyAuditTrail(bad, v.origin, key);
  assert.deepEqual(marked.entries.map((e) => e.ok).filter((ok) => !ok).length, 2);
  for (const k of v.consistency) {
    await c.verifyConsistency(k.old, k.new, hex(k.old_root), hex(v.root), k.hashes.map(hex));
  }
  const k = v.consistency[4];
  await assert.rejects(c.verifyConsistency(k.old, k.new, hex(v.root), hex(v.root), k.hashes.map(hex)), c.ProofInvalid);
});

test("delegation, delegated grants, re-wrap and published keys in the page", async () => {
  const g = vectors("grant");
  const doctorPk = (await c.userPublicKeys(g.doctor)).pre_pk;
  const sealed = await c.sealDelegation(g.patient, { delegatePk: doctorPk, segments: ["labs"], versions: { labs: 2 } });
  const held = await c.openDelegation(g.doctor, sealed);
  for (const v of [1, 2]) {
    const own = await c.segmentSecretKey(g.patient, "labs", v);
    assert.equal(c.toHex(held.labs[v].toBEBytes()), c.toHex(own.toBEBytes()));
  }
  const kgs = await c.makeKeyGrants(g.doctor, {
    patientId: "usr_patient", grantId: "g_d", granteeId: "usr_x", receivingPk: doctorPk,
    versions: { labs: [2] }, nodes: g.nodes, threshold: 2, delegatedKeys: held,
  });
  const doc = await c.verifyGrant(kgs[0].signed_grant);
  assert.equal(doc.delegating_pk, await c.segmentPublicKey(g.patient, "labs", 2));
  assert.equal(doc.verifying_pk, doctorPk);
  await assert.rejects(
    c.makeKeyGrants(g.doctor, { patientId: "p", grantId: "g", granteeId: "x", receivingPk: doctorPk,
      versions: { notes: [1] }, nodes: g.nodes, threshold: 2, delegatedKeys: held }),
    c.FormatError,
  );
  const rec = vectors("record");
  const rewrapped = await c.rewrapManifest(rec.signed_manifest, rec.material, { segments: ["conditions", "labs"], versions: { conditions: "3", labs: 2 } });
  const notes = (await c.verifyManifest(rewrapped)).segments.find((s) => s.name === "conditions");
  assert.equal(notes.capsule_version, 3);
  assert.equal(await c.rewrapManifest(rec.signed_manifest, rec.material, { segments: ["labs"], versions: { labs: 2 } }), null);
  const cts = Object.fromEntries(Object.entries(rec.ciphertexts).map(([n, h]) => [n, c.fromHex(h)]));
  assert.deepEqual((await c.decryptOwnRecord(rec.material, rewrapped, cts)).bundle, rec.bundle);
  const keys = await c.signPatientKeys(rec.material, { patientId: "usr_patient", segments: c.SEGMENTS });
  assert.equal((await c.verifyPatientKeys(keys)).segments.labs.version, 1);
  keys.keys.segments.labs.version = 5;
  await assert.rejects(c.verifyPatientKeys(keys), c.SignatureInvalid);
});
