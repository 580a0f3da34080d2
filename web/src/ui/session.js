// The signed-in patient: his keys (in memory only, for this tab), his token, the
// verified system parameters and the clients of the services they name.

import * as crypto from "../crypto/index.js";
import { kgcApi, ledgerApi, ownerApi } from "../api/services.js";
import * as vault from "./vault.js";

/** The KGC's URL, given by the page's <meta name="phr-kgc"> (owner-api fills it in). */
export function kgcUrl() {
  const meta = document.querySelector('meta[name="phr-kgc"]');
  const url = meta?.getAttribute("content") ?? "";
  return url && !url.startsWith("%") ? url : location.origin;
}

export const session = {
  material: null,
  token: null,
  params: null,
  userId: null,
  kgc: null,
  owner: null,
  ledger: null,
  directory: new Map(),
  // shown once on the records page after an enrolment: the account and its keystore file
  welcome: null,
};

const tokenOf = () => session.token;

/** The services whose calls the page's token is for. */
const PAGE_AUDIENCE = ["kgc", "owner-api", "ledger", "user-api"];

/** Fetch the KGC's signed parameters and verify them against the pinned key. */
export async function verifiedParams() {
  const kgc = kgcApi(kgcUrl(), tokenOf);
  const pin = (await vault.load("pin")) ?? null;
  const { params, pin: newPin } = await crypto.verifyParams(await kgc.params(), pin);
  await vault.save("pin", newPin);
  return { kgc, params };
}

function serviceUrl(params, name, fallback) {
  return params.services?.[name]?.url ?? fallback;
}

/** Sign in with the key material: challenge signed, token kept, clients built. */
export async function signIn(material) {
  const { kgc, params } = await verifiedParams();
  const challenge = await kgc.challenge(material.user_id);
  const answer = await crypto.signChallenge(material, challenge);
  // one token for the services the page calls (each refuses a token not naming it)
  const { access_token: token } = await kgc.token(answer.user_id, answer.nonce, answer.signature, PAGE_AUDIENCE);
  Object.assign(session, {
    material,
    token,
    params,
    userId: material.user_id,
    kgc,
    owner: ownerApi(serviceUrl(params, "owner-api", location.origin), material.user_id, tokenOf),
    ledger: ledgerApi(serviceUrl(params, "ledger", ""), tokenOf),
  });
  return session;
}

export function signOut() {
  Object.assign(session, { material: null, token: null, params: null, userId: null });
  session.directory.clear();
}

/** A directory entry (cached for the session): name, role, organisation, keys. */
export async function person(userId) {
  if (!userId) return null;
  if (!session.directory.has(userId)) {
    session.directory.set(userId, session.kgc.user(userId).catch(() => ({ user_id: userId })));
  }
  return session.directory.get(userId);
}

/** An organisation's name (cached), or its id if the directory cannot tell. */
export async function organisation(orgId) {
  if (!orgId) return null;
  const key = `org:${orgId}`;
  if (!session.directory.has(key)) {
    session.directory.set(key, session.kgc.org(orgId).then((o) => o.name).catch(() => orgId));
  }
  return session.directory.get(key);
}
