// The page's one door to crypto: pure async functions (no fetch, no DOM) taking and
// returning plain objects in the Python wire formats. web/src/ui and web/src/api call
// only this module. See web/README.md for the list and the golden vectors.

export { b64uDecode, b64uEncode, fromHex, toHex, utf8, fromUtf8 } from "./bytes.js";
export { canonicalJson, canonicalJsonText } from "./canonical.js";
export * from "./errors.js";
export {
  DEFAULT_SCRYPT_N,
  decryptKeystore,
  encryptKeystore,
  keystoreFileText,
  parseKeystoreFile,
} from "./keystore.js";
export {
  enrolmentRequest,
  exportSecretKeys,
  fingerprint,
  generateKeyMaterial,
  importSecretKeys,
  kfragSignerPublic,
  searchKey,
  segmentPublicKey,
  segmentPublicKeys,
  signChallenge,
  signJson,
  userPublicKeys,
  withUserId,
} from "./keys.js";
export { verifyParams } from "./params.js";
