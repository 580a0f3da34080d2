// Writes artefacts made by the page's crypto into a folder, for the Python code to accept
// (tests/web/test_web_crypto.py): node web/scripts/emit_artefacts.js OUTDIR PASSPHRASE
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as c from "../src/crypto/index.js";

const [outdir, passphrase] = process.argv.slice(2);
const put = (name, value) => writeFileSync(join(outdir, name), JSON.stringify(value, null, 2));

const material = c.withUserId(await c.generateKeyMaterial({ role: "patient" }), "usr_js");
put("material.json", material);
const keystore = await c.encryptKeystore(material, passphrase, { scryptN: 1024 });
put("keystore.json", keystore);
writeFileSync(join(outdir, "keystore.file"), c.keystoreFileText(keystore));
put("enrolment.json", await c.enrolmentRequest(material, { role: "patient" }));
put("login.json", await c.signChallenge(material, { user_id: "usr_js", nonce: "nonce-1" }));
put("public.json", {
  user: await c.userPublicKeys(material),
  segments: await c.segmentPublicKeys(material, ["labs", "notes"], 1),
  kfrag_signer: await c.kfragSignerPublic(material),
  search_labs_v1: c.toHex(await c.searchKey(material, "labs", 1)),
});

// The record path, with the grant vectors' keys so Python can check every step.
const { readFileSync } = await import("node:fs");
const vec = (n) => JSON.parse(readFileSync(new URL(`../test/vectors/${n}.json`, import.meta.url), "utf8"));
const g = vec("grant");
const bundle = vec("fhir").bundle;
const patient = g.patient;
const rec = await c.encryptRecord(bundle, patient, { patientId: "usr_patient", recordId: "r_js", chunkSize: 300 });
put("record.json", {
  signed_manifest: rec.signed_manifest,
  ciphertexts: Object.fromEntries(Object.entries(rec.segments).map(([n, s]) => [n, c.toHex(s.ciphertext)])),
  tags: Object.fromEntries(Object.entries(rec.segments).map(([n, s]) => [n, s.tags])),
});
const doctorPk = (await c.userPublicKeys(g.doctor)).pre_pk;
const keyGrants = await c.makeKeyGrants(patient, {
  patientId: "usr_patient",
  grantId: "g_js",
  granteeId: "usr_doctor",
  receivingPk: doctorPk,
  versions: { labs: [1, 2] },
  nodes: g.nodes,
  threshold: 2,
  expiresAt: "2026-06-30T00:00:00+00:00",
  purpose: "treatment",
});
put("key_grants.json", keyGrants);
put("rotated.json", await c.rotateSegment(rec.signed_manifest, patient, { segment: "labs", toVersion: 2 }));
put("delegation.json", await c.sealDelegation(patient, { delegatePk: doctorPk, segments: ["labs"], versions: { labs: 2 } }));
put("patient_keys.json", await c.signPatientKeys(patient, { patientId: "usr_patient", segments: ["labs", "notes"], versions: { labs: 2 } }));
const node = g.nodes[0];
put("sealed.json", {
  node_id: node.id,
  grant_id: "g_js/labs/v1",
  plaintext: "6b667261672062797465732068657265",
  envelope: c.toHex(await c.seal(c.b64uDecode(node.x25519_public), c.fromHex("6b667261672062797465732068657265"), { nodeId: node.id, grantId: "g_js/labs/v1" })),
});
