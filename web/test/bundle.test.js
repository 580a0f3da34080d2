// The page's build of the crypto (esbuild, platform browser, WASM inlined) works as the
// node modules do: no node built-ins in it, and the same keys from the same material.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { build } from "esbuild";
import { vectors } from "./vectors.js";

test("the browser bundle of web/src/crypto derives the Python keys", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "phr-web-")), "crypto.js");
  await build({
    entryPoints: [new URL("../src/crypto/index.js", import.meta.url).pathname],
    bundle: true,
    platform: "browser",
    format: "esm",
    loader: { ".wasm": "binary" },
    outfile: out,
    logLevel: "silent",
  });
  const text = readFileSync(out, "utf8");
  assert.ok(!/from\s*["']node:/.test(text) && !text.includes('require("node:'), "node built-ins in the bundle");
  const c = await import(pathToFileURL(out).href);
  const v = vectors("keys");
  assert.deepEqual(await c.userPublicKeys(v.material), v.user_public);
  assert.equal(await c.segmentPublicKey(v.material, "labs", 1), v.segment_public_keys["labs/v1"]);
});
