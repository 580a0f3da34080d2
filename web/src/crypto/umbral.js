// Loads @nucypher/umbral-pre 0.10.0 (WASM) once, in node and in the bundled page alike.
//
// The wasm-bindgen "bundler" glue is plain ES; the WASM bytes come from "#umbral-wasm"
// (package.json "imports"): in node a file read, in the page the bytes esbuild inlines
// (loader binary). Byte forms are always toBytes/fromBytes, never the *Simple ones:
// those are what Python's umbral-pre 0.11 reads and writes.

import * as glue from "@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.js";
import wasmBytes from "#umbral-wasm";

let ready;

/** The umbral-pre module, instantiated on first use. */
export function umbral() {
  ready ??= (async () => {
    const bytes = await wasmBytes();
    const { instance } = await WebAssembly.instantiate(bytes, {
      "./umbral_pre_wasm_bg.js": glue,
    });
    glue.__wbg_set_wasm(instance.exports);
    return glue;
  })();
  return ready;
}
