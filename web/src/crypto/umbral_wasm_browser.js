// The Umbral WASM bytes in the page: inlined by esbuild (--loader:.wasm=binary), so the
// page needs no fetch and no CDN (see umbral.js).
import bytes from "@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.wasm";

export default async function wasmBytes() {
  return bytes;
}
