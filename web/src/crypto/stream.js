// Chunked AES-256-GCM segment ciphertext ("PHRS" version 1), as phr.crypto.stream:
//
//   header  = "PHRS" | 1 | 1 (AES-256-GCM) | 1 (SHA-256) | 0 | chunk_size u32 BE
//           | nonce_prefix (7 B)                                         (19 bytes)
//   chunk_i = AES-256-GCM(data_key, prefix | i u32 BE | final u8, plaintext_i, aad)
//   aad     = header | canonical JSON of {fmt, patient_id, record_id, segment, key_version}
//
// Every chunk but the last holds exactly chunk_size bytes; an empty segment is one
// empty final chunk. Reordered, dropped, truncated or extended streams fail.

import { concat, equalBytes, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { FormatError, IntegrityError } from "./errors.js";
import { randomBytes, sha256 } from "./primitives.js";

export const HEADER_SIZE = 19;
export const TAG_SIZE = 16;
export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const MAX_CHUNK_SIZE = 1 << 26;
const MAGIC = utf8("PHRS");
const subtle = globalThis.crypto.subtle;

/** The associated data of a segment context {patient_id, record_id, segment, key_version}. */
export function segmentAad({ patient_id, record_id, segment, key_version }) {
  return canonicalJson({ fmt: "phr-segment-aad/v1", patient_id, record_id, segment, key_version });
}

function header(chunkSize, prefix) {
  const h = new Uint8Array(HEADER_SIZE);
  h.set(MAGIC, 0);
  h.set([1, 1, 1, 0], 4);
  new DataView(h.buffer).setUint32(8, chunkSize);
  h.set(prefix, 12);
  return h;
}

export function parseHeader(raw) {
  if (raw.length < HEADER_SIZE) throw new IntegrityError("ciphertext shorter than its header");
  if (!equalBytes(raw.subarray(0, 4), MAGIC)) {
    throw new FormatError("not a PHR segment ciphertext (bad magic)");
  }
  if (raw[4] !== 1) throw new FormatError(`unsupported segment format version ${raw[4]}`);
  if (raw[5] !== 1 || raw[6] !== 1 || raw[7] !== 0) {
    throw new FormatError("unsupported algorithm identifiers in segment header");
  }
  const chunkSize = new DataView(raw.buffer, raw.byteOffset).getUint32(8);
  if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new FormatError(`chunk size ${chunkSize} out of range`);
  }
  return { chunkSize, prefix: raw.slice(12, HEADER_SIZE) };
}

function nonce(prefix, index, final) {
  const n = new Uint8Array(12);
  n.set(prefix, 0);
  new DataView(n.buffer).setUint32(7, index);
  n[11] = final ? 1 : 0;
  return n;
}

/**
 * Encrypt a whole segment. Returns {ciphertext, sha256 (bytes), size, plaintext_size,
 * chunk_size}. `onProgress(done, total)` is called after each chunk.
 */
export async function encryptSegment(
  dataKey,
  context,
  plaintext,
  { chunkSize = DEFAULT_CHUNK_SIZE, rand = randomBytes, onProgress } = {},
) {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new FormatError("chunk size out of range");
  }
  if (dataKey.length !== 32) throw new FormatError("a data key has 32 bytes (AES-256)");
  const head = header(chunkSize, rand(7));
  const aad = concat(head, segmentAad(context));
  const key = await subtle.importKey("raw", dataKey, "AES-GCM", false, ["encrypt"]);
  const count = Math.max(1, Math.ceil(plaintext.length / chunkSize));
  const parts = [head];
  for (let i = 0; i < count; i++) {
    const chunk = plaintext.subarray(i * chunkSize, (i + 1) * chunkSize);
    const iv = nonce(head.subarray(12), i, i === count - 1);
    const params = { name: "AES-GCM", iv, additionalData: aad, tagLength: 128 };
    parts.push(new Uint8Array(await subtle.encrypt(params, key, chunk)));
    onProgress?.(Math.min((i + 1) * chunkSize, plaintext.length), plaintext.length);
  }
  const ciphertext = concat(...parts);
  return {
    ciphertext,
    sha256: await sha256(ciphertext),
    size: ciphertext.length,
    plaintext_size: plaintext.length,
    chunk_size: chunkSize,
  };
}

/** Decrypt and fully authenticate a segment; IntegrityError/FormatError on any fault. */
export async function decryptSegment(dataKey, context, ciphertext, { expectedSha256 } = {}) {
  const { chunkSize, prefix } = parseHeader(ciphertext);
  if (expectedSha256 && !equalBytes(await sha256(ciphertext), expectedSha256)) {
    throw new IntegrityError("ciphertext SHA-256 differs from the manifest");
  }
  const aad = concat(ciphertext.subarray(0, HEADER_SIZE), segmentAad(context));
  const key = await subtle.importKey("raw", dataKey, "AES-GCM", false, ["decrypt"]);
  const body = ciphertext.subarray(HEADER_SIZE);
  const step = chunkSize + TAG_SIZE;
  if (body.length === 0) throw new IntegrityError("no chunk after the header");
  const count = Math.ceil(body.length / step);
  const out = [];
  for (let i = 0; i < count; i++) {
    const ct = body.subarray(i * step, (i + 1) * step);
    if (ct.length < TAG_SIZE) throw new IntegrityError(`chunk ${i} shorter than its tag`);
    const params = (final) => ({
      name: "AES-GCM",
      iv: nonce(prefix, i, final),
      additionalData: aad,
      tagLength: 128,
    });
    try {
      out.push(new Uint8Array(await subtle.decrypt(params(i === count - 1), key, ct)));
    } catch {
      throw new IntegrityError(
        i === count - 1
          ? `chunk ${i} does not authenticate as the final chunk (truncated or forged)`
          : `chunk ${i} does not authenticate`,
      );
    }
  }
  return concat(...out);
}
