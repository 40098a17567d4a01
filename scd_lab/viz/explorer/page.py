"""The page of ``export.py``: HTML, CSS and a small script that reads the JSON block and
swaps what ``export.py`` prepared (data URIs, captions, SVG) when a control moves. It draws
no pixel itself. ``__TITLE__`` and ``__DATA__`` are filled in by ``export_html``."""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 8px}
.controls{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin:6px 0}
.runs{display:flex;flex-wrap:wrap;gap:18px;margin-top:10px}
.run{border:1px solid #ddd;border-radius:6px;padding:8px;background:#fafafa}
.run h2{font-size:14px;margin:0 0 4px}.run h2 span{color:#666;font-weight:normal}
.view{position:relative;overflow:hidden;margin:6px 0}
.view img,.view div{position:absolute;left:0;top:0}
.view img.base{image-rendering:pixelated}
.view .heat{background-repeat:no-repeat}
.caption{font-size:12px;max-width:300px;min-height:32px}.inv{color:#c0392b;font-weight:bold}
.notes{font-size:12px;color:#a04000;max-width:300px}
.space h3{font-size:12px;margin:8px 0 2px}
.scatter circle{stroke:none;cursor:pointer}.scatter circle.sel{stroke:#000;stroke-width:2.5}
.scatter circle.near{stroke:#555;stroke-width:1.5;stroke-dasharray:2,1}
.nn img{width:40px;height:40px;image-rendering:pixelated;margin-right:2px;cursor:pointer;
  border:1px solid #ccc}
.legend{font-size:12px;color:#444;margin-top:10px;max-width:1000px}
</style></head>
<body>
<h1>__TITLE__</h1>
<div class="controls">
 <label>epoch <input type="range" id="epoch" min="0" value="0" step="1"></label>
 <span id="epoch-label"></span>
 <button id="play" type="button">▶ play</button>
 <label>image <select id="image"></select></label>
 <label>opacity <input type="range" id="opacity" min="0" max="1" step="0.05" value="0.6"></label>
 <label><input type="checkbox" id="mask" checked> mask outline</label>
</div>
<div class="runs" id="runs"></div>
<div class="legend">Cyan outline: the ground-truth mask. <b class="inv">▼ inverted</b>: the
map's AUROC on held-out masks at that step is below 0.5 (1 − map marks the object better).
Curves: AUROC (blue) and best IoU (green) measured during training; the red line is the shown
epoch. Maps are min-max normalised per image (magma: 0 dark, 1 bright). Feature space: t-SNE
of the probe images' embeddings (GAP of the online encoder) at the shown epoch, coloured by
class; the chosen image is ringed in black, its nearest neighbours (cosine) in grey and shown
below. Click a point or a neighbour to choose that image. Made by scd_lab; no network needed.</div>
<script type="application/json" id="data">__DATA__</script>
<script>
(function(){
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const S = D.display, T = D.timeline, IM = D.images;
const $ = (id) => document.getElementById(id);
const st = {t: T.length - 1, img: 0, opacity: 0.6, mask: true, maps: {}, flip: {}};
const el = (tag, attrs, parent) => {const e = document.createElement(tag);
  Object.assign(e, attrs || {}); if (parent) parent.appendChild(e); return e;};
const epoch = $("epoch"); epoch.max = T.length - 1; epoch.value = st.t;
IM.names.forEach((n, k) => el("option", {value: k, textContent: n}, $("image")));
const cols = D.runs.map((r, ri) => {
  st.maps[ri] = r.default; st.flip[ri] = false;
  const box = el("div", {className: "run"}, $("runs"));
  const h = el("h2", {}, box); h.textContent = r.label + " ";
  el("span", {textContent: r.method}, h);
  const pick = el("select", {className: "map-picker"}, box);
  (r.maps || []).forEach(m => el("option", {value: m, textContent: m}, pick));
  pick.value = r.default || "";
  const fl = el("label", {}, box); const flip = el("input", {type: "checkbox"}, fl);
  fl.append(" flip polarity (1 − map)");
  const view = el("div", {className: "view"}, box);
  view.style.width = view.style.height = S + "px";
  const base = el("img", {className: "base", width: S, height: S, alt: "probe image"}, view);
  const heat = el("div", {className: "heat"}, view);
  heat.style.width = heat.style.height = S + "px";
  const outline = el("img", {className: "outline", width: S, height: S, alt: ""}, view);
  const cap = el("div", {className: "caption"}, box);
  const curve = el("div", {className: "curve-box"}, box);
  const space = el("div", {className: "space"}, box);
  el("h3", {textContent: "feature space (t-SNE of the probe set)"}, space);
  const scat = el("div", {className: "scatter-box"}, space);
  el("h3", {textContent: "nearest neighbours of the chosen image"}, space);
  const nn = el("div", {className: "nn"}, space);
  const notes = el("div", {className: "notes"}, box);
  notes.textContent = r.notes.concat(r.space_note ? [r.space_note] : []).map(n => "⚠ " + n).join(" ");
  pick.onchange = () => {st.maps[ri] = pick.value; show();};
  flip.onchange = () => {st.flip[ri] = flip.checked; show();};
  scat.onclick = (ev) => {const i = ev.target.getAttribute && ev.target.getAttribute("data-i");
    if (i !== null) {const k = IM.index.indexOf(+i); if (k >= 0) {st.img = k; show();}}};
  return {base, heat, outline, cap, curve, scat, nn, shown: {}};
});
function show(){
  const t = st.t, k = st.img;
  $("epoch-label").textContent = "epoch " + T[t] + " (" + (t + 1) + "/" + T.length + ")";
  $("image").value = k;
  D.runs.forEach((r, ri) => {
    const c = cols[ri], m = st.maps[ri], f = st.flip[ri] ? 1 : 0;
    const capd = r.captions[m + "|" + t + "|" + f], s = r.at[t];
    c.base.src = IM.src[k];
    const strip = capd && capd[2] !== null ? r.strips[m + "|" + capd[2] + "|" + f] : null;
    c.heat.style.backgroundImage = strip ? "url(" + strip + ")" : "none";
    c.heat.style.backgroundPosition = (-k * S) + "px 0px";
    c.heat.style.opacity = st.opacity;
    c.outline.style.display = st.mask && IM.outline[k] ? "" : "none";
    if (IM.outline[k]) c.outline.src = IM.outline[k];
    c.cap.textContent = capd ? capd[0] : "";
    c.cap.className = "caption" + (capd && capd[1] ? " inv" : "");
    if (c.shown.curve !== m) {c.curve.innerHTML = r.curves[m] || ""; c.shown.curve = m;}
    const mark = c.curve.querySelector("line.marker");
    if (mark && s !== null) {const xs = JSON.parse(mark.getAttribute("data-x"));
      const x = xs[String(r.epochs[s])]; if (x !== undefined) {
        mark.setAttribute("x1", x); mark.setAttribute("x2", x);}}
    if (c.shown.scatter !== s) {c.scat.innerHTML = (s !== null && r.scatter[s]) || "";
      c.shown.scatter = s;}
    const near = (s !== null && r.near[s]) ? (r.near[s][k] || []) : [];
    c.scat.querySelectorAll("circle").forEach(e => {const i = +e.getAttribute("data-i");
      const p = IM.index.indexOf(i);
      e.setAttribute("class", p === k ? "sel" : (near.indexOf(p) >= 0 ? "near" : ""));});
    c.nn.innerHTML = "";
    near.forEach(p => {const im = el("img", {src: IM.src[p], title: IM.names[p],
      alt: IM.names[p]}, c.nn); im.onclick = () => {st.img = p; show();};});
  });
}
epoch.oninput = () => {st.t = +epoch.value; show();};
$("image").onchange = () => {st.img = +$("image").value; show();};
$("opacity").oninput = () => {st.opacity = +$("opacity").value; show();};
$("mask").onchange = () => {st.mask = $("mask").checked; show();};
let timer = null;
$("play").onclick = () => {
  if (timer) {clearInterval(timer); timer = null; $("play").textContent = "▶ play"; return;}
  $("play").textContent = "❚❚ pause";
  timer = setInterval(() => {st.t = (st.t + 1) % T.length; epoch.value = st.t; show();}, 700);
};
show();
})();
</script>
</body></html>
"""
