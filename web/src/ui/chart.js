// A small line chart of one lab test over time, as SVG built with DOM calls (no inline
// style), with a text alternative and the same values in the table beside it.

import { h } from "./dom.js";
import { dayWords } from "./words.js";

export function lineChart(series) {
  const W = 320, H = 160, L = 40, R = 10, T = 10, B = 30;
  const xs = series.points.map((p) => p.time.getTime());
  const ys = series.points.map((p) => p.value);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const px = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const path = series.points.map((p, i) => `${i ? "L" : "M"}${px(p.time.getTime()).toFixed(1)},${py(p.value).toFixed(1)}`).join(" ");
  const first = series.points[0], last = series.points.at(-1);
  const label = `${series.name} over time: from ${first.value} ${series.unit} on ${dayWords(first.time)} to ${last.value} ${series.unit} on ${dayWords(last.time)}, ${series.points.length} values.`;
  return h("figure", {},
    h("svg:svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, id: "lab-chart" },
      h("svg:line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
      h("svg:line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
      h("svg:text", { x: 2, y: T + 8 }, String(y1)),
      h("svg:text", { x: 2, y: H - B }, String(y0)),
      h("svg:text", { x: L, y: H - 8 }, dayWords(first.time)),
      h("svg:text", { x: W - R - 80, y: H - 8 }, dayWords(last.time)),
      h("svg:path", { class: "series", d: path }),
      series.points.map((p) => h("svg:circle", { class: "dot", cx: px(p.time.getTime()).toFixed(1), cy: py(p.value).toFixed(1), r: 3 }))),
    h("figcaption", {}, label));
}
