// What went wrong, in words a patient can act on.

import { ApiError, Unreachable } from "../api/http.js";
import { errorBox, fill, h } from "./dom.js";

/** [headline, detail] for an error from the crypto module or a service. */
export function explain(exc) {
  const name = exc?.name ?? "";
  if (name === "WrongPassphrase") {
    return ["That passphrase does not open these keys.", "Check it and try again; it is case-sensitive."];
  }
  if (name === "KeystoreError") {
    return ["This file is not a PHR Exchange keystore.", "Choose the keystore.json file that phr wrote."];
  }
  if (name === "ParamsInvalid") {
    return ["The system's identity could not be verified.", `Nothing was sent. (${exc.message})`];
  }
  if (exc instanceof Unreachable) {
    return ["The system is not answering right now.", `${exc.service} cannot be reached. Your data is safe; try again in a few minutes.`];
  }
  if (exc instanceof ApiError) {
    if (exc.status === 401) return ["Your sign-in has ended.", "Sign in again to continue."];
    if (exc.status === 403) return ["That is not allowed.", exc.message];
    if (exc.status === 404) return ["That could not be found.", exc.message];
    if (exc.status === 409 || exc.status === 410) return ["That has already changed.", exc.message];
    if (exc.status >= 500) {
      return ["The system is having trouble right now.", `${exc.service} answered ${exc.status}. Try again in a few minutes.`];
    }
    return ["The system refused that.", exc.message];
  }
  if (["IntegrityError", "SignatureInvalid", "ManifestInvalid", "ProofInvalid", "CapsuleOpenError"].includes(name)) {
    return ["A check failed: this data could not be verified.", exc.message];
  }
  if (name === "BundleInvalid") return ["This file is not a valid FHIR Bundle.", exc.message];
  return ["Something went wrong.", exc?.message ?? String(exc)];
}

/** What `load()` gives, or `undefined` once the page titled `title` shows why not. */
export async function loadOrExplain(main, title, load) {
  try {
    return await load();
  } catch (exc) {
    fill(main, h("h1", {}, title), errorBox(...explain(exc)));
    return undefined;
  }
}
