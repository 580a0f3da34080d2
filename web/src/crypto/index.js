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
  kfragSigner,
  preSecretKey,
  searchKey,
  segmentSecretKey,
  segmentPublicKey,
  segmentPublicKeys,
  signChallenge,
  signJson,
  userPublicKeys,
  withUserId,
} from "./keys.js";
export { verifyParams } from "./params.js";
export { keywordTags, normaliseKeyword, trapdoor } from "./search.js";
export {
  DEFAULT_CHUNK_SIZE,
  decryptSegment,
  encryptSegment,
  segmentAad,
} from "./stream.js";
export { capsuleFromBytes, openWithKey, sealToKey } from "./capsule.js";
export {
  SEGMENTS,
  codeKeyword,
  extractKeywords,
  mergeSegments,
  payloadFromBytes,
  payloadKeywords,
  payloadToBytes,
  segmentFor,
  splitBundle,
  trapdoorsFor,
  validateBundle,
  words,
} from "./fhir.js";
export { normaliseManifest, signManifest, verifyManifest } from "./manifest.js";
export {
  decryptOwnRecord,
  decryptOwnSegment,
  encapsulate,
  encryptRecord,
  encryptSegmentPayload,
  isoNow,
  openOwnCapsule,
  ownerRecipients,
  publishedRecipients,
} from "./record.js";
export { seal, unseal } from "./seal.js";
export {
  keyGrantId,
  makeGrantFromKeys,
  makeKeyGrants,
  newGrantId,
  openDelegation,
  sealDelegation,
  verifyGrant,
} from "./grants.js";
export {
  rewrapCapsule,
  rewrapManifest,
  rotateSegment,
  signPatientKeys,
  verifyPatientKeys,
} from "./rotation.js";
export {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  noteKeyId,
  rootFromInclusion,
  verifyAuditTrail,
  verifyCheckpoint,
  verifyConsistency,
  verifyEventInclusion,
  verifyInclusion,
} from "./ledger.js";
