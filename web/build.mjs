// Builds the patient's page into dist/: one ES module bundle (the Umbral WASM inlined,
// so no fetch of a .wasm and no CDN), its stylesheet and index.html. `make web` runs
// `npm ci` first, so the bundler and every library are the exact versions of
// package-lock.json. dist/ is built, never committed.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");

// Written over in place (no rm first): a running owner-api never finds the page missing.
await mkdir(dist, { recursive: true });
await esbuild.build({
  entryPoints: [join(src, "main.js")],
  outfile: join(dist, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  loader: { ".wasm": "binary" },
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  logLevel: "warning",
});
for (const name of ["index.html", "app.css"]) {
  await copyFile(join(src, name), join(dist, name));
}
