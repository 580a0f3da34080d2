// Ledger proofs in the page: RFC 9162 inclusion (and consistency) proofs as
// phr.ledger.merkle verifies them, C2SP signed-note checkpoints as phr.ledger.checkpoint
// parses them, and an audit-trail entry checked against its checkpoint (phr.ledger.verify).

import { b64uDecode, concat, equalBytes, fromHex, toHex, utf8 } from "./bytes.js";
import { canonicalJson } from "./canonical.js";
import { ProofInvalid } from "./errors.js";
import { ed25519Verify, sha256 } from "./primitives.js";

export const EMPTY_ROOT = fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
const MAX_SIZE = (1n << 64n) - 1n;

export const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
export const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);
const popcount = (n) => [...n.toString(2)].filter((c) => c === "1").length;

function big(n, what) {
  let v;
  try {
    v = BigInt(n);
  } catch {
    throw new ProofInvalid(`${what} is not an integer`);
  }
  if (v < 0n || v > MAX_SIZE) throw new ProofInvalid(`tree size ${n} is not a uint64`);
  return v;
}

function shape(index, size) {
  const inner = bitLength(index ^ (size - 1n));
  return [inner, popcount(index >> BigInt(inner))];
}

async function chainInner(seed, proof, index) {
  for (let i = 0; i < proof.length; i++) {
    seed = (index >> BigInt(i)) & 1n ? await nodeHash(proof[i], seed) : await nodeHash(seed, proof[i]);
  }
  return seed;
}

async function chainInnerRight(seed, proof, index) {
  for (let i = 0; i < proof.length; i++) {
    if ((index >> BigInt(i)) & 1n) seed = await nodeHash(proof[i], seed);
  }
  return seed;
}

async function chainBorderRight(seed, proof) {
  for (const h of proof) seed = await nodeHash(h, seed);
  return seed;
}

function checkHashes(proof) {
  if (proof.some((p) => p.length !== 32)) throw new ProofInvalid("proof hash of the wrong length");
}

/** The root implied by an audit path (RFC 9162 2.1.3.2); ProofInvalid if malformed. */
export async function rootFromInclusion(index, size, leaf, proof) {
  const i = big(index, "index");
  const n = big(size, "size");
  if (i >= n) throw new ProofInvalid(`leaf ${index} is not in a tree of ${size}`);
  if (leaf.length !== 32) throw new ProofInvalid("leaf hash of the wrong length");
  checkHashes(proof);
  const [inner, border] = shape(i, n);
  if (proof.length !== inner + border) {
    throw new ProofInvalid(`proof has ${proof.length} hashes, the tree needs ${inner + border}`);
  }
  return chainBorderRight(await chainInner(leaf, proof.slice(0, inner), i), proof.slice(inner));
}

/** ProofInvalid unless `leaf` (a leaf hash) is leaf `index` of the tree with `root`. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (!equalBytes(await rootFromInclusion(index, size, leaf, proof), root)) {
    throw new ProofInvalid("inclusion proof does not lead to the root");
  }
}

/** ProofInvalid unless tree `old` (oldRoot) is a prefix of tree `neu` (newRoot). */
export async function verifyConsistency(old, neu, oldRoot, newRoot, proof) {
  const m = big(old, "old size");
  const n = big(neu, "new size");
  if (n < m) throw new ProofInvalid(`sizes ${old} and ${neu} are not in order`);
  if (m === 0n) throw new ProofInvalid("a consistency proof from the empty tree is meaningless");
  let got;
  if (m === n) {
    if (proof.length) throw new ProofInvalid("no proof is needed between equal sizes");
    got = oldRoot;
  } else {
    if (!proof.length) throw new ProofInvalid("empty consistency proof");
    checkHashes(proof);
    let [inner, border] = shape(m - 1n, n);
    const shift = bitLength(m & -m) - 1;
    inner -= shift;
    let seed = proof[0];
    let rest = proof.slice(1);
    if (m === 1n << BigInt(shift)) {
      seed = oldRoot;
      rest = proof;
    }
    if (rest.length !== inner + border) {
      throw new ProofInvalid(`proof has ${proof.length} hashes, the sizes need another count`);
    }
    const mask = (m - 1n) >> BigInt(shift);
    const first = await chainBorderRight(await chainInnerRight(seed, rest.slice(0, inner), mask), rest.slice(inner));
    if (!equalBytes(first, oldRoot)) throw new ProofInvalid("consistency proof does not lead to the old root");
    got = await chainBorderRight(await chainInner(seed, rest.slice(0, inner), mask), rest.slice(inner));
  }
  if (!equalBytes(got, newRoot)) throw new ProofInvalid("consistency proof does not lead to the new root");
}

// ------------------------------------------------------------ C2SP signed notes

const DASH = "\u2014";
const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function b64std(text) {
  if (!STD_B64.test(text)) throw new ProofInvalid("not standard base64");
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const b64stdEncode = (bytes) => btoa(String.fromCharCode(...bytes));

/** The key id of an Ed25519 signer: SHA-256(name || 0x0A || 0x01 || key)[:4]. */
export async function noteKeyId(name, publicKey) {
  return (await sha256(concat(utf8(`${name}\n`), new Uint8Array([1]), publicKey))).slice(0, 4);
}

function splitNote(note) {
  for (const ch of note) {
    const c = ch.codePointAt(0);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f || (c >= 0xd800 && c <= 0xdfff)) {
      throw new ProofInvalid("a note holds no control characters but newlines");
    }
  }
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) throw new ProofInvalid("a signed note is a text, a blank line and signature lines");
  const text = note.slice(0, cut + 1);
  const block = note.slice(cut + 2);
  if (!block || !block.endsWith("\n")) throw new ProofInvalid("a signed note ends with signature lines");
  const sigs = [];
  for (const line of block.slice(0, -1).split("\n")) {
    if (!line.startsWith(`${DASH} `)) {
      throw new ProofInvalid("a signature line starts with an em dash and a space");
    }
    const rest = line.slice(2);
    const sp = rest.indexOf(" ");
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const b64 = sp < 0 ? "" : rest.slice(sp + 1);
    if (!name || name.includes("+") || /\s/u.test(name)) {
      throw new ProofInvalid("a key name is non-empty, without spaces or plus signs");
    }
    const blob = b64std(b64);
    if (blob.length < 5) throw new ProofInvalid("a signature is a key id and at least one byte");
    sigs.push([name, blob]);
    if (sigs.length > 100) throw new ProofInvalid("more than 100 signatures on a note");
  }
  return [text, sigs];
}

function parseBody(text) {
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || lines.some((l) => !l)) {
    throw new ProofInvalid("a checkpoint body is at least three non-empty lines");
  }
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || BigInt(sizeText) > MAX_SIZE) {
    throw new ProofInvalid("the size line is a uint64 in ASCII decimal, no leading zeros");
  }
  const root = b64std(rootText);
  if (root.length !== 32 || b64stdEncode(root) !== rootText) {
    throw new ProofInvalid("root hash is not the base64 of 32 bytes");
  }
  return { origin, size: Number(sizeText), root_hash: root };
}

/**
 * Parse a checkpoint note and require a valid signature by (origin, key); witnesses'
 * lines are ignored. `publicKey`: the ledger's Ed25519 key, raw (32 bytes) or base64url.
 * Returns {origin, size, root_hash (bytes)}.
 */
export async function verifyCheckpoint(note, origin, publicKey) {
  if (typeof publicKey === "string") publicKey = b64uDecode(publicKey);
  if (typeof note !== "string") throw new ProofInvalid("a signed note is text");
  const [text, sigs] = splitNote(note);
  const want = await noteKeyId(origin, publicKey);
  let verified = false;
  for (const [signer, blob] of sigs) {
    if (signer !== origin || !equalBytes(blob.subarray(0, 4), want)) continue;
    try {
      await ed25519Verify(publicKey, blob.subarray(4), utf8(text));
    } catch {
      throw new ProofInvalid("checkpoint signature does not verify");
    }
    verified = true;
  }
  if (!verified) throw new ProofInvalid(`no signature by ${origin} on the checkpoint`);
  const cp = parseBody(text);
  if (cp.origin !== origin) throw new ProofInvalid(`checkpoint of '${cp.origin}', not '${origin}'`);
  return cp;
}

/**
 * One audit-trail entry (InclusionProofOut: event_id, leaf_index, tree_size, root_hash,
 * hashes, event) checked against a verified checkpoint; ProofInvalid otherwise.
 */
export async function verifyEventInclusion(proof, checkpoint) {
  if (proof.tree_size !== checkpoint.size || proof.root_hash !== toHex(checkpoint.root_hash)) {
    throw new ProofInvalid("proof is against another tree than the checkpoint");
  }
  if (String(proof.event?.id) !== proof.event_id) throw new ProofInvalid("proof is for another event");
  let hashes;
  try {
    hashes = proof.hashes.map(fromHex);
  } catch {
    throw new ProofInvalid("proof hashes are not hex");
  }
  const leaf = await leafHash(canonicalJson(proof.event));
  await verifyInclusion(proof.leaf_index, proof.tree_size, leaf, hashes, checkpoint.root_hash);
}

/**
 * A whole audit trail (AuditTrailOut): the checkpoint verified, then every entry.
 * Returns [{entry, ok, error}] so a page can mark each line.
 */
export async function verifyAuditTrail(trail, origin, publicKey) {
  const cp = await verifyCheckpoint(trail.checkpoint, origin, publicKey);
  const out = [];
  for (const entry of trail.entries) {
    try {
      await verifyEventInclusion(entry, cp);
      out.push({ entry, ok: true, error: null });
    } catch (exc) {
      out.push({ entry, ok: false, error: exc.message });
    }
  }
  return { checkpoint: cp, entries: out };
}
