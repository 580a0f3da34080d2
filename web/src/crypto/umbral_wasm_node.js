// The Umbral WASM bytes in node (see umbral.js).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export default async function wasmBytes() {
  return readFile(require.resolve("@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.wasm"));
}
