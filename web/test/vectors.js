// Reads a golden vector file written by tests/web/make_vectors.py.
import { readFileSync } from "node:fs";

export function vectors(name) {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}.json`, import.meta.url), "utf8"));
}

/** A rand(n) that hands out the given byte strings in order (for golden outputs). */
export function given(...chunks) {
  const queue = [...chunks];
  return (n) => {
    const next = queue.shift();
    if (!next || next.length !== n) throw new Error(`unexpected random request of ${n} bytes`);
    return next;
  };
}
