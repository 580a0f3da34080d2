import assert from "node:assert/strict";
import { test } from "node:test";
import * as c from "../src/crypto/index.js";
import { given, vectors } from "./vectors.js";

test("keystore: the JS writes the bytes Python writes and opens them", async () => {
  for (const v of vectors("keystore").cases) {
    const rand = given(c.b64uDecode(v.salt), c.b64uDecode(v.nonce));
    const doc = await c.encryptKeystore(v.material, v.passphrase, { scryptN: v.scrypt_n, rand });
    assert.deepEqual(doc, v.keystore);
    assert.deepEqual(await c.decryptKeystore(v.keystore, v.passphrase), v.material);
    const file = c.parseKeystoreFile(c.keystoreFileText(v.keystore));
    assert.deepEqual(await c.decryptKeystore(file, v.passphrase), v.material);
  }
});

test("keystore: wrong passphrase, tampering, swapped parameters and junk are refused", async () => {
  const v = vectors("keystore").cases[0];
  await assert.rejects(c.decryptKeystore(v.keystore, "wrong"), c.WrongPassphrase);
  const swapped = { ...v.keystore, kdf: { ...v.keystore.kdf, n: 2048 } };
  await assert.rejects(c.decryptKeystore(swapped, v.passphrase), c.WrongPassphrase);
  const huge = { ...v.keystore, kdf: { ...v.keystore.kdf, n: 1 << 21 } };
  await assert.rejects(c.decryptKeystore(huge, v.passphrase), c.KeystoreError);
  await assert.rejects(c.decryptKeystore({ format: "x" }, v.passphrase), c.KeystoreError);
  assert.throws(() => c.parseKeystoreFile("not json"), c.KeystoreError);
});

test("keys: public keys, segment keys, kfrag signer and search keys as phr.crypto.keys", async () => {
  const v = vectors("keys");
  assert.deepEqual(await c.userPublicKeys(v.material), v.user_public);
  for (const [label, pk] of Object.entries(v.segment_public_keys)) {
    const [segment, ver] = label.split("/v");
    assert.equal(await c.segmentPublicKey(v.material, segment, Number(ver)), pk);
  }
  assert.equal(await c.kfragSignerPublic(v.material), v.kfrag_signer_public);
  for (const [label, hex] of Object.entries(v.search_keys)) {
    const [segment, ver] = label.split("/v");
    assert.equal(c.toHex(await c.searchKey(v.material, segment, Number(ver))), hex);
  }
  await assert.rejects(c.segmentPublicKey(v.material, "a/b", 1), c.FormatError);
});

test("enrolment request and login answer are the SDK's bytes", async () => {
  const v = vectors("keys");
  for (const e of [v.enrolment, v.enrolment_doctor]) {
    const body = await c.enrolmentRequest(v.material, e);
    assert.deepEqual(body, e.request);
  }
  assert.deepEqual(await c.signChallenge(v.material, v.login), v.login.body);
});

test("generated material round-trips and has a master secret only for a patient", async () => {
  const patient = await c.generateKeyMaterial({ role: "patient" });
  const doctor = await c.generateKeyMaterial({ role: "doctor" });
  assert.equal(c.b64uDecode(patient.master_secret).length, 32);
  assert.equal(doctor.master_secret, null);
  assert.deepEqual(await c.importSecretKeys(patient), patient);
  assert.equal(c.withUserId(patient, "usr_1").user_id, "usr_1");
  await assert.rejects(c.segmentPublicKey(doctor, "labs", 1), c.KeystoreError);
});
