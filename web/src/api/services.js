// The HTTP calls of the page, one function per route, named as the services name them.
// KGC: system parameters, enrolment, challenge sign-in, the directory. owner-api: the
// patient's records, uploads, keys, grants, emergency segments, delegations. Ledger: the
// audit trail with proofs, checkpoints. Every answer is the service's JSON as it comes.

import { client } from "./http.js";

const enc = encodeURIComponent;

/** The KGC (identity): `token()` gives the current bearer token, if any. */
export function kgcApi(url, token) {
  const c = client("the identity service (KGC)", url, token);
  return {
    url: c.url,
    params: () => c.get("/v1/params"),
    enrol: (body) => c.post("/v1/users", body),
    challenge: (userId) => c.post("/v1/auth/challenge", { user_id: userId }),
    token: (userId, nonce, signature, audience) =>
      c.post("/v1/auth/token", { user_id: userId, nonce, signature, audience }),
    user: (userId) => c.get(`/v1/users/${enc(userId)}`),
    findUsers: (selector) => c.get("/v1/users", { query: { selector } }),
    org: (orgId) => c.get(`/v1/orgs/${enc(orgId)}`),
    orgs: () => c.get("/v1/orgs"),
    createGroup: (selector) => c.post("/v1/groups", { selector }),
    group: (groupId) => c.get(`/v1/groups/${enc(groupId)}`),
  };
}

/** owner-api, for the patient `patientId`. */
export function ownerApi(url, patientId, token) {
  const c = client("the records service (owner-api)", url, token);
  const p = (path) => `/v1/patients/${enc(patientId)}${path}`;
  return {
    url: c.url,
    whoami: () => c.get("/v1/whoami"),
    records: () => c.get(p("/records")),
    record: (recordId) => c.get(p(`/records/${enc(recordId)}`)),
    segment: (recordId, segment) => c.bytes(p(`/records/${enc(recordId)}/segments/${enc(segment)}`)),
    beginUpload: (body) => c.post(p("/uploads"), body),
    upload: (uploadId) => c.get(p(`/uploads/${enc(uploadId)}`)),
    commitUpload: (uploadId) => c.post(p(`/uploads/${enc(uploadId)}/commit`), {}),
    abortUpload: (uploadId) => c.del(p(`/uploads/${enc(uploadId)}`)),
    keys: () => c.get(p("/keys")),
    publishKeys: (signedKeys) => c.put(p("/keys"), { signed_keys: signedKeys }),
    rotate: (segments) => c.post(p("/keys/rotate"), { segments }),
    replaceManifest: (recordId, signedManifest) =>
      c.put(p(`/records/${enc(recordId)}/manifest`), { signed_manifest: signedManifest }),
    grants: () => c.get(p("/grants")),
    grant: (body) => c.post(p("/grants"), body),
    addKeyGrants: (grantId, keyGrants) =>
      c.post(p(`/grants/${enc(grantId)}/key-grants`), { key_grants: keyGrants }),
    revoke: (grantId) => c.del(p(`/grants/${enc(grantId)}`)),
    emergency: () => c.get(p("/emergency")),
    setEmergency: (segments) => c.put(p("/emergency"), { segments }),
    delegations: () => c.get(p("/delegations")),
    delegate: (userId, body) => c.put(p(`/delegations/${enc(userId)}`), body),
    endDelegation: (userId) => c.del(p(`/delegations/${enc(userId)}`)),
    contributors: () => c.get(p("/contributors")),
  };
}

/** The ledger: the patient's trail (each event with its inclusion proof), checkpoints. */
export function ledgerApi(url, token) {
  const c = client("the ledger", url, token);
  return {
    url: c.url,
    key: () => c.get("/v1/key"),
    checkpoint: () => c.get("/v1/checkpoint"),
    audit: (subject) => c.get(`/v1/audit/${enc(subject)}`),
    consistency: (first, second) => c.get("/v1/proofs/consistency", { query: { first, second } }),
  };
}
