// Searchable keyword tags of phr.crypto.search:
//   tag = HMAC-SHA256(search_key, "phr-tag/v1" 0x00 || UTF-8(normalise(keyword))), hex

import { concat, toHex, utf8 } from "./bytes.js";
import { FOLDS, SPACES } from "./casefold_table.js";
import { FormatError } from "./errors.js";
import { hmacSha256 } from "./primitives.js";

const DOMAIN = utf8("phr-tag/v1\u0000");
const SPACE_SET = new Set(SPACES);

/** Python's str.casefold (full case folding, per code point). */
export function casefold(text) {
  let out = "";
  for (const ch of text) out += FOLDS[ch.codePointAt(0).toString(16)] ?? ch;
  return out;
}

/** Python's str.split() with no argument: split on Unicode whitespace, drop empties. */
export function splitWhitespace(text) {
  const words = [];
  let word = "";
  for (const ch of text) {
    if (SPACE_SET.has(ch)) {
      if (word) words.push(word);
      word = "";
    } else {
      word += ch;
    }
  }
  if (word) words.push(word);
  return words;
}

/** NFKC, case-folded, trimmed, inner whitespace collapsed: "Blood  Sugar" -> "blood sugar". */
export function normaliseKeyword(keyword) {
  return splitWhitespace(casefold(keyword.normalize("NFKC"))).join(" ");
}

/** The tag of one keyword (what a data user sends to search), lowercase hex. */
export async function trapdoor(searchKey, keyword) {
  if (searchKey.length !== 32) throw new FormatError("a search key has 32 bytes");
  return toHex(await hmacSha256(searchKey, concat(DOMAIN, utf8(normaliseKeyword(keyword)))));
}

/** Sorted, unique tags of a segment's keywords. */
export async function keywordTags(searchKey, keywords) {
  const tags = new Set();
  for (const k of keywords) if (normaliseKeyword(k)) tags.add(await trapdoor(searchKey, k));
  return [...tags].sort();
}
