// Writes artefacts made by the page's crypto into a folder, for the Python code to accept
// (tests/web/test_web_crypto.py): node web/scripts/emit_artefacts.js OUTDIR PASSPHRASE
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as c from "../src/crypto/index.js";

const [outdir, passphrase] = process.argv.slice(2);
const put = (name, value) => writeFileSync(join(outdir, name), JSON.stringify(value, null, 2));

const material = c.withUserId(await c.generateKeyMaterial({ role: "patient" }), "usr_js");
put("material.json", material);
put("keystore.json", await c.encryptKeystore(material, passphrase, { scryptN: 1024 }));
put("enrolment.json", await c.enrolmentRequest(material, { role: "patient" }));
put("login.json", await c.signChallenge(material, { user_id: "usr_js", nonce: "nonce-1" }));
put("public.json", {
  user: await c.userPublicKeys(material),
  segments: await c.segmentPublicKeys(material, ["labs", "notes"], 1),
  kfrag_signer: await c.kfragSignerPublic(material),
  search_labs_v1: c.toHex(await c.searchKey(material, "labs", 1)),
});
