// The model cards of the page of seq2seq-serve: each model's facts and its training curves, drawn
// as inline SVG (no library). Uses `element` from app.js.
"use strict";

function chart(title, epochs, values) {
  const points = epochs.map((e, i) => [e, values[i]]).filter(([e, v]) => e !== null && v !== null);
  if (points.length < 2) return null;
  const W = 320, H = 130, L = 44, R = 8, T = 18, B = 22;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const x = (v) => L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R);
  const y = (v) => T + (1 - (v - y0) / (y1 - y0 || 1)) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const add = (tag, attributes, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  const last = points[points.length - 1];
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "curve");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}: ${points[0][1].toFixed(3)} after epoch ${points[0][0] + 1}, ${last[1].toFixed(3)} after epoch ${last[0] + 1}`);
  add("text", { x: L, y: 12 }, title);
  add("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#c9d1da" });
  add("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#c9d1da" });
  add("text", { x: L - 4, y: T + 4, "text-anchor": "end" }, y1.toFixed(2));
  add("text", { x: L - 4, y: H - B, "text-anchor": "end" }, y0.toFixed(2));
  add("text", { x: L, y: H - 6 }, `epoch ${x0 + 1}`);
  add("text", { x: W - R, y: H - 6, "text-anchor": "end" }, `epoch ${x1 + 1}`);
  add("polyline", { points: points.map(([e, v]) => `${x(e).toFixed(1)},${y(v).toFixed(1)}`).join(" "), fill: "none", stroke: "#0b5cad", "stroke-width": 2 });
  for (const [e, v] of points) add("circle", { cx: x(e).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: "#0b5cad" }).append(Object.assign(document.createElementNS(ns, "title"), { textContent: `epoch ${e + 1}: ${v.toFixed(4)}` }));
  return svg;
}

function card(model) {
  const box = element("article", null, { class: "card" });
  const arrow = model.direction.replace("-", "→");
  box.append(element("h3", `${arrow}${model.name ? `: ${model.name}` : ""}`));
  const dl = element("dl");
  const row = (name, value) => {
    if (value === null || value === undefined || value === "") return;
    dl.append(element("dt", name), element("dd", String(value)));
  };
  const n = (value) => (typeof value === "number" ? value.toLocaleString("en") : null);
  row("corpus", model.corpus && (model.training_pairs ? `${model.corpus} (${n(model.training_pairs)} training pairs)` : model.corpus));
  row("model", model.model);
  row("parameters", n(model.parameters));
  if (model.vocabulary) row("vocabulary", `${n(model.vocabulary.source) ?? "?"} source / ${n(model.vocabulary.target) ?? "?"} target tokens`);
  if (model.epochs !== undefined) row("training", `${model.epochs ?? "?"} epochs${model.training_minutes ? `, ${model.training_minutes} min` : ""}`);
  for (const [split, s] of Object.entries(model.scores || {})) row(`scores (${split})`, `BLEU ${s.bleu ?? "?"}, chrF ${s.chrf ?? "?"}${s.beam ? ` (beam ${s.beam})` : ""}`);
  row("data licence", model.licence);
  box.append(dl);
  const curve = model.curve || {};
  const epochs = curve.epoch || [];
  for (const [column, title] of [["val_loss", "validation loss"], ["val_accuracy", "validation accuracy"]]) {
    const svg = curve[column] && chart(title, epochs, curve[column]);
    if (svg) box.append(svg);
  }
  for (const column of Object.keys(curve).filter((c) => c.includes("bleu"))) {
    const svg = chart(column.replace("_", " "), epochs, curve[column]);
    if (svg) box.append(svg);
  }
  if (!epochs.length) box.append(element("p", "No training curve recorded for this run.", { class: "hint" }));
  return box;
}
