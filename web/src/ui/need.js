// The crypto module's functions the pages call, by name: a clear error if this build's
// crypto module does not have one yet (rather than "undefined is not a function").

import * as crypto from "../crypto/index.js";

export class NotInThisPage extends Error {
  constructor(name) {
    super(`this version of the page cannot do that yet (crypto.${name} is missing)`);
    this.name = "NotInThisPage";
  }
}

export function need(name) {
  const fn = crypto[name];
  if (typeof fn !== "function") throw new NotInThisPage(name);
  return fn;
}

export const has = (name) => typeof crypto[name] === "function";
