// Sign in: open the keys kept in this browser, import the keystore file `phr` wrote, or
// enrol here (keys made in the page). Keys leave the page only as a keystore encrypted
// under the passphrase (IndexedDB, or a file the patient saves).

import * as crypto from "../crypto/index.js";
import { announce, busy, errorBox, field, fill, h } from "./dom.js";
import { explain } from "./errors.js";
import { publishKeys } from "./keyflows.js";
import { has } from "./need.js";
import { session, signIn, verifiedParams } from "./session.js";
import * as vault from "./vault.js";

function progressOf(label) {
  const bar = h("progress", { max: "100", value: "0", "aria-label": label, hidden: true });
  return {
    bar,
    update: (fraction) => {
      bar.hidden = false;
      bar.value = Math.round(fraction * 100);
    },
  };
}

function saveFileLink(doc) {
  const blob = new Blob([crypto.keystoreFileText(doc)], { type: "application/json" });
  return h("a", { href: URL.createObjectURL(blob), download: "keystore.json", id: "keystore-download" },
    "Save my keystore file (for the phr command or another browser)");
}

export async function signInPage(main, done) {
  const stored = await vault.load("keystore").catch(() => null);
  const account = await vault.load("account").catch(() => null);
  const errors = h("div", { id: "signin-errors" });
  const fail = (exc) => fill(errors, errorBox(...explain(exc)));

  async function finish(material, doc, afterSignIn = async () => {}) {
    await vault.save("keystore", doc);
    await vault.save("account", material.user_id);
    await signIn(material);
    await afterSignIn();
    announce(`Signed in as ${session.userId}`);
    done();
  }

  // --- open the keys this browser keeps
  const openPass = field("Passphrase", { type: "password", name: "open-passphrase", autocomplete: "current-password", required: true });
  const openProgress = progressOf("Opening your keys");
  const openButton = h("button", { type: "submit", id: "open-keys" }, "Sign in");
  const openForm = h("form", { "aria-labelledby": "open-title", onsubmit: (e) => {
    e.preventDefault();
    fill(errors);
    busy(openButton, async () => {
      const material = await crypto.decryptKeystore(stored, openPass.control.value, { onProgress: openProgress.update });
      await finish(material, stored);
    }, fail);
  } },
  h("h2", { id: "open-title" }, "Sign in with the keys kept in this browser"),
  h("p", { class: "hint" }, `Account ${account ?? "kept here"}.`),
  openPass.el, openProgress.bar, openButton);

  // --- import a keystore file
  const file = field("Keystore file", { type: "file", name: "keystore-file", accept: ".json,application/json", required: true },
    "The keystore.json in your phr folder (phr writes it when you enrol).");
  const importPass = field("Its passphrase", { type: "password", name: "import-passphrase", autocomplete: "current-password", required: true });
  const importProgress = progressOf("Opening the keystore");
  const importButton = h("button", { type: "submit", id: "import-keys" }, "Import and sign in");
  const importForm = h("form", { "aria-labelledby": "import-title", onsubmit: (e) => {
    e.preventDefault();
    fill(errors);
    busy(importButton, async () => {
      const chosen = file.control.files?.[0];
      if (!chosen) throw new Error("Choose a keystore file first.");
      const doc = crypto.parseKeystoreFile(await chosen.text());
      const material = await crypto.decryptKeystore(doc, importPass.control.value, { onProgress: importProgress.update });
      await finish(material, doc);
    }, fail);
  } },
  h("h2", { id: "import-title" }, "Use a keystore file"),
  file.el, importPass.el, importProgress.bar, importButton);

  // --- enrol in the page
  const newPass = field("Choose a passphrase", { type: "password", name: "new-passphrase", autocomplete: "new-password", minlength: "8", required: true },
    "At least 8 characters. It encrypts your keys; nobody can reset it for you.");
  const newPass2 = field("The same passphrase again", { type: "password", name: "new-passphrase-2", autocomplete: "new-password", required: true });
  const name = field("Your name (optional)", { type: "text", name: "display-name", autocomplete: "name" });
  const enrolProgress = progressOf("Protecting your new keys");
  const enrolButton = h("button", { type: "submit", id: "enrol" }, "Create my account");
  const enrolForm = h("form", { "aria-labelledby": "enrol-title", onsubmit: (e) => {
    e.preventDefault();
    fill(errors);
    busy(enrolButton, async () => {
      if (newPass.control.value !== newPass2.control.value) {
        throw new Error("The two passphrases differ.");
      }
      const { kgc } = await verifiedParams();
      let material = await crypto.generateKeyMaterial({ role: "patient" });
      const body = await crypto.enrolmentRequest(material, { role: "patient" });
      if (name.control.value.trim()) body.display_name = name.control.value.trim();
      const enrolled = await kgc.enrol(body);
      material = crypto.withUserId(material, enrolled.user_id);
      const doc = await crypto.encryptKeystore(material, newPass.control.value, { onProgress: enrolProgress.update });
      await finish(material, doc, async () => {
        session.welcome = h("div", { class: "notice", id: "welcome", role: "status" },
          h("p", {}, `Your account ${enrolled.user_id} is ready.`), saveFileLink(doc));
        // as `phr enrol` does: contributors (hospitals) encrypt to these public keys
        if (has("signPatientKeys")) await publishKeys();
      });
    }, fail);
  } },
  h("h2", { id: "enrol-title" }, "New here? Create an account"),
  h("p", { class: "hint" }, "Your keys are made in this browser and never leave it unencrypted."),
  newPass.el, newPass2.el, name.el, enrolProgress.bar, enrolButton);

  fill(main, h("h1", {}, "Sign in"), errors, stored ? openForm : null, importForm, enrolForm);
  (stored ? openPass : file).control.focus();
}
