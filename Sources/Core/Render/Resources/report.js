(function () {
'use strict';
const meta = JSON.parse(document.getElementById('gb-meta').textContent);
const N = meta.points, M = meta.testPoints, F = meta.frames;
const MISSING = 65535, Q = 65534, NONE = 255;
// The URL's hash may name a view: #epoch=3&point=42 (or &test=7), &colour=label|prediction|correct,
// &cell=4,9 (confusion cell true 4, predicted 9); #selftest runs the self-test.
const PARAMS = new URLSearchParams(location.hash.slice(1));
const SELFTEST = PARAMS.has('selftest');
const TAB10 = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
// Palette slots: 0-9 classes, 10 correct, 11 wrong, 12 no prediction.
const SLOT_CORRECT = 10, SLOT_WRONG = 11, SLOT_NONE = 12;
const HEX = TAB10.concat(['#a9bfd6', '#e0301e', '#b8b8b8']);
const SLOT_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'correct', 'wrong', 'no prediction'];
const BG = [255, 255, 255];

function bytes(id) {
  const el = document.getElementById(id);
  const text = el ? el.textContent.trim() : '';
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function rgbOf(hex) { const v = parseInt(hex.slice(1), 16); return [(v >> 16) & 255, (v >> 8) & 255, v & 255]; }
function pack(c) { return ((255 << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0; }  // ImageData is RGBA in memory
function towardWhite(c, w) { return c.map(v => Math.round(v + (255 - v) * w)); }

// Typed views over the data blocks. Uint16 data are little-endian, as every browser is.
const coords = new Uint16Array(bytes('gb-coords').buffer);          // [frame][point][x, y]
const labels = bytes('gb-labels');
const preds = bytes('gb-predictions');                              // [frame][point]
const testCoords = new Uint16Array(bytes('gb-test-coords').buffer);
const testLabels = bytes('gb-test-labels'), testPreds = bytes('gb-test-predictions');
const COLOURS = HEX.map(h => pack(rgbOf(h)));
const DIMMED = HEX.map(h => pack(towardWhite(rgbOf(h), 0.82)));
const BG32 = pack(BG);

// Accuracy of the predictions at each frame, for the status line.
const frameAccuracy = [];
for (let f = 0; f < F; f++) {
  if (!meta.hasPredictions[f]) { frameAccuracy.push(null); continue; }
  let ok = 0;
  for (let i = 0; i < N; i++) if (preds[f * N + i] === labels[i]) ok++;
  frameAccuracy.push(N ? ok / N : 0);
}
const misclassified = [];
for (let j = 0; j < M; j++) if (testPreds[j] !== testLabels[j]) misclassified.push(j);
misclassified.sort((a, b) => testLabels[a] - testLabels[b] || testPreds[a] - testPreds[b] || a - b);

// Draw order: a fixed stride permutation, so classes sorted in the input are painted mixed.
const order = new Uint32Array(N);
{
  let step = Math.max(1, Math.floor(N * 0.618034));
  const gcd = (a, b) => b ? gcd(b, a % b) : a;
  while (N > 2 && gcd(step, N) !== 1) step++;
  for (let i = 0, j = 0; i < N; i++) { order[i] = j; j += step; if (j >= N) j -= N; }
}

// ---- State and elements ----
const state = {
  pos: F - 1, mode: 0, showTest: false, showMis: false, hidden: new Array(13).fill(false),
  selection: null, hovered: -1, zoom: 1, panX: 0, panY: 0, playing: false,
};
const $ = id => document.getElementById(id);
const canvas = $('gb-map'), ctx = canvas.getContext('2d');
const slider = $('gb-epoch'), playButton = $('gb-play'), epochLabel = $('gb-epoch-label'), statusLine = $('gb-status');
let W = 0, H = 0, dpr = 1, image = null, pixels = null;
const sx = new Float32Array(N), sy = new Float32Array(N);      // screen position of each point as drawn
const tsx = new Float32Array(M), tsy = new Float32Array(M);    // of each test point (NaN: not shown)
let grid = null;

// ---- Geometry ----
function transform() {
  const L = meta.limits, pad = 18 * dpr;
  const xr = (L.xMax - L.xMin) || 1, yr = (L.yMax - L.yMin) || 1;
  const s = Math.min((W - 2 * pad) / xr, (H - 2 * pad) / yr);
  const ox = (W - s * xr) / 2, oy = (H - s * yr) / 2, k = state.zoom;
  return {
    ax: s * k * xr / Q, bx: (ox - W / 2) * k + W / 2 + state.panX * dpr,
    ay: -s * k * yr / Q, by: (H - oy - H / 2) * k + H / 2 + state.panY * dpr,
  };
}
function pointDisk() {
  const base = N > 30000 ? 2 : N > 8000 ? 2.6 : 3.4;
  const d = Math.max(1, Math.round(base * dpr * Math.min(2.2, Math.sqrt(state.zoom))));
  const offsets = [];
  const r = d / 2;
  for (let y = 0; y < d; y++) for (let x = 0; x < d; x++) {
    const dx = x + 0.5 - r, dy = y + 0.5 - r;
    if (dx * dx + dy * dy <= r * r + 0.6) offsets.push([x - Math.floor(r), y - Math.floor(r)]);
  }
  return offsets;
}
function testAlpha() { return F < 2 ? 1 : Math.min(1, Math.max(0, state.pos - (F - 2))); }

function slotOf(label, pred) {
  if (state.mode === 0) return label;
  if (pred === NONE) return SLOT_NONE;
  if (state.mode === 1) return pred;
  return pred === label ? SLOT_CORRECT : SLOT_WRONG;
}

// ---- Drawing ----
function drawBase() {
  pixels.fill(BG32);
  const T = transform(), disk = pointDisk();
  const f0 = Math.min(Math.floor(state.pos), F - 1), f1 = Math.min(f0 + 1, F - 1), t = state.pos - f0;
  const fc = Math.min(F - 1, Math.round(state.pos));
  const b0 = f0 * N * 2, b1 = f1 * N * 2, pb = fc * N;
  const palette = state.selection ? DIMMED : COLOURS;
  const hidden = state.hidden;
  sx.fill(NaN); sy.fill(NaN);
  // Pass 0 draws everything but the wrong points of the correct/wrong mode, pass 1 those on top.
  for (let pass = 0; pass < (state.mode === 2 ? 2 : 1); pass++) {
    for (let k = 0; k < N; k++) {
      const i = order[k];
      const slot = slotOf(labels[i], preds[pb + i]);
      if (hidden[slot] || (state.mode === 2 && (slot === SLOT_WRONG) !== (pass === 1))) continue;
      let qx = coords[b0 + 2 * i], qy = coords[b0 + 2 * i + 1];
      if (qx === MISSING || qy === MISSING) continue;
      if (t > 0) {
        const rx = coords[b1 + 2 * i], ry = coords[b1 + 2 * i + 1];
        if (rx !== MISSING && ry !== MISSING) { qx += (rx - qx) * t; qy += (ry - qy) * t; }
      }
      const x = T.ax * qx + T.bx, y = T.ay * qy + T.by;
      sx[i] = x; sy[i] = y;
      const px = Math.floor(x), py = Math.floor(y), c = palette[slot];
      for (let d = 0; d < disk.length; d++) {
        const xx = px + disk[d][0], yy = py + disk[d][1];
        if (xx >= 0 && yy >= 0 && xx < W && yy < H) pixels[yy * W + xx] = c;
      }
    }
  }
  // Test points are placed in the final map only.
  tsx.fill(NaN); tsy.fill(NaN);
  if (M && testAlpha() > 0) {
    for (let j = 0; j < M; j++) {
      const qx = testCoords[2 * j], qy = testCoords[2 * j + 1];
      if (qx === MISSING || qy === MISSING) continue;
      tsx[j] = T.ax * qx + T.bx; tsy[j] = T.ay * qy + T.by;
    }
  }
  grid = null;
  drawOverlay();
  updateStatus();
}

function testVisible(j) {
  if (tsx[j] !== tsx[j]) return false;
  if (state.selection && state.selection.set.has(j)) return true;
  return state.showTest || (state.showMis && testPreds[j] !== testLabels[j]);
}

function drawOverlay() {
  ctx.putImageData(image, 0, 0);
  const alpha = testAlpha();
  if (M && alpha > 0) {
    ctx.save();
    ctx.globalAlpha = alpha;
    const small = 3.2 * dpr, big = 5.2 * dpr;
    // Diamonds, batched by fill colour.
    const paths = new Map();
    const add = (key, j, r) => {
      if (!paths.has(key)) paths.set(key, new Path2D());
      const p = paths.get(key), x = tsx[j], y = tsy[j];
      p.moveTo(x, y - r); p.lineTo(x + r, y); p.lineTo(x, y + r); p.lineTo(x - r, y); p.closePath();
    };
    for (let j = 0; j < M; j++) {
      if (!testVisible(j)) continue;
      const selected = state.selection && state.selection.set.has(j);
      const wrong = testPreds[j] !== testLabels[j];
      const slot = slotOf(testLabels[j], testPreds[j]);
      if (state.hidden[slot] && !selected) continue;
      const emphasised = selected || (state.showMis && wrong);
      const dim = state.selection && !selected;
      add((emphasised ? 'e' : dim ? 'd' : 'n') + slot, j, emphasised ? big : small);
    }
    for (const [key, path] of paths) {
      const slot = Number(key.slice(1));
      ctx.fillStyle = key[0] === 'd' ? '#' + towardWhite(rgbOf(HEX[slot]), 0.75).map(v => v.toString(16).padStart(2, '0')).join('') : HEX[slot];
      ctx.fill(path);
      ctx.lineWidth = (key[0] === 'e' ? 1.4 : 0.7) * dpr;
      ctx.strokeStyle = key[0] === 'e' ? (state.selection ? '#111' : '#b91c1c') : key[0] === 'd' ? '#c8c8c8' : '#222';
      ctx.stroke(path);
    }
    ctx.restore();
  }
  const g = state.hovered;
  if (g >= 0) {
    const x = g < N ? sx[g] : tsx[g - N], y = g < N ? sy[g] : tsy[g - N];
    if (x === x) {
      ctx.save();
      ctx.lineWidth = 2 * dpr; ctx.strokeStyle = '#111';
      ctx.beginPath(); ctx.arc(x, y, 7 * dpr, 0, 2 * Math.PI); ctx.stroke();
      ctx.lineWidth = 1 * dpr; ctx.strokeStyle = '#fff';
      ctx.beginPath(); ctx.arc(x, y, 8.5 * dpr, 0, 2 * Math.PI); ctx.stroke();
      ctx.restore();
    }
  }
}

function updateStatus() {
  const fc = Math.min(F - 1, Math.round(state.pos));
  epochLabel.textContent = meta.epochLabels[fc];
  const acc = frameAccuracy[fc];
  let text = meta.epochLabels[fc];
  if (acc !== null) text += ' · accuracy on these points ' + (100 * acc).toFixed(2) + ' %';
  if (state.zoom > 1.001) text += ' · zoom ' + state.zoom.toFixed(1) + '×';
  statusLine.textContent = text;
}

// ---- Hit testing: a grid of cells over the points as drawn ----
function buildGrid() {
  const cell = Math.max(4, Math.round(10 * dpr));
  const cols = Math.ceil(W / cell), rows = Math.ceil(H / cell);
  const counts = new Int32Array(cols * rows + 1);
  const total = N + M, cellOf = new Int32Array(total).fill(-1);
  for (let g = 0; g < total; g++) {
    const x = g < N ? sx[g] : tsx[g - N], y = g < N ? sy[g] : tsy[g - N];
    if (!(x >= 0 && y >= 0 && x < W && y < H)) continue;
    if (g >= N && !testVisible(g - N)) continue;
    const c = Math.floor(y / cell) * cols + Math.floor(x / cell);
    cellOf[g] = c; counts[c + 1]++;
  }
  for (let c = 0; c < cols * rows; c++) counts[c + 1] += counts[c];
  const items = new Int32Array(counts[cols * rows]), fill = counts.slice(0, cols * rows);
  for (let g = 0; g < total; g++) if (cellOf[g] >= 0) items[fill[cellOf[g]]++] = g;
  grid = { cell, cols, rows, start: counts, items };
}
/** The point (test points as N + j) nearest device pixel (x, y) within the pick radius, or -1. */
function hit(x, y) {
  if (!grid) buildGrid();
  const r = 8 * dpr, { cell, cols, rows, start, items } = grid;
  let best = -1, bestD = r * r;
  const c0 = Math.max(0, Math.floor((x - r) / cell)), c1 = Math.min(cols - 1, Math.floor((x + r) / cell));
  const r0 = Math.max(0, Math.floor((y - r) / cell)), r1 = Math.min(rows - 1, Math.floor((y + r) / cell));
  for (let row = r0; row <= r1; row++) for (let col = c0; col <= c1; col++) {
    const c = row * cols + col;
    for (let k = start[c]; k < start[c + 1]; k++) {
      const g = items[k];
      const px = g < N ? sx[g] : tsx[g - N], py = g < N ? sy[g] : tsy[g - N];
      const d = (px - x) * (px - x) + (py - y) * (py - y);
      // Test points are drawn on top, so they win ties.
      if (d < bestD || (d === bestD && g >= N)) { bestD = d; best = g; }
    }
  }
  return best;
}

// ---- Sprites and the inspector ----
const sheets = Array.from(document.querySelectorAll('img.gb-sprite'));
// Loaded is enough: drawImage decodes a loaded sheet on first use. decode() only warms that up
// in the background (and is not waited for: headless virtual time does not wait for it).
const spritesReady = Promise.all(sheets.map(img => new Promise(done => {
  if (img.complete) done(); else { img.addEventListener('load', done); img.addEventListener('error', done); }
})));
spritesReady.then(() => { for (const img of sheets) if (img.decode) img.decode().catch(() => null); });
const SP = meta.sprites;
function tileOf(g) {
  if (g < N) return SP.train === null || SP.train === undefined ? -1 : SP.train + g;
  return SP.test === null || SP.test === undefined ? -1 : SP.test + g - N;
}
function drawTile(target, g, x, y, size) {
  const tile = tileOf(g);
  if (tile < 0) return false;
  const img = sheets[Math.floor(tile / SP.tilesPerSheet)], local = tile % SP.tilesPerSheet;
  if (!img || !img.complete || !img.naturalWidth) return false;
  target.imageSmoothingEnabled = false;
  target.drawImage(img, (local % SP.columns) * SP.side, Math.floor(local / SP.columns) * SP.side, SP.side, SP.side,
    x, y, size, size);
  return true;
}
function tag(slot) { return '<span class="gb-tag" style="background:' + HEX[slot] + '">' + SLOT_NAMES[slot] + '</span>'; }
const inspectImg = $('gb-inspect-img'), inspectCtx = inspectImg.getContext('2d');
function showInspector(g) {
  if (g < 0) return;
  const isTest = g >= N, i = isTest ? g - N : g;
  const fc = Math.min(F - 1, Math.round(state.pos));
  const label = isTest ? testLabels[i] : labels[i];
  const pred = isTest ? testPreds[i] : preds[fc * N + i];
  inspectImg.classList.toggle('gb-empty', tileOf(g) < 0);
  inspectCtx.clearRect(0, 0, 112, 112);
  if (tileOf(g) >= 0) { inspectCtx.fillStyle = '#000'; inspectCtx.fillRect(0, 0, 112, 112); }
  if (!drawTile(inspectCtx, g, 0, 0, 112)) spritesReady.then(() => { if (state.hovered === g) drawTile(inspectCtx, g, 0, 0, 112); });
  $('gb-inspect-title').textContent = (isTest ? 'Test image #' : 'Training image #') + i.toLocaleString('en-US');
  let body = 'Label ' + tag(label) + '<br>';
  if (pred === NONE) body += 'No prediction at ' + meta.epochLabels[fc];
  else body += 'Predicted ' + tag(pred) + ' ' + (pred === label ? '<span class="gb-ok">✓ correct</span>' : '<span class="gb-bad">✗ wrong</span>')
    + '<br><span class="gb-muted">' + (isTest ? 'by the trained network' : 'at ' + meta.epochLabels[fc]) + '</span>';
  $('gb-inspect-body').innerHTML = body;
  let history = '';
  if (!isTest) {
    for (let f = 0; f < F; f++) {
      const p = preds[f * N + i];
      history += '<span title="' + meta.epochLabels[f] + '" class="' + (f === fc ? 'gb-now' : '') + '" style="background:'
        + (p === NONE ? HEX[SLOT_NONE] : p === label ? '#16a34a' : '#dc2626') + '">' + (p === NONE ? '–' : p) + '</span>';
    }
    history = '<div class="gb-history-title">Prediction by epoch (green: correct)</div>' + history;
  }
  $('gb-inspect-history').innerHTML = history;
}
function setHover(g) {
  if (g === state.hovered) return;
  state.hovered = g;
  drawOverlay();
  showInspector(g);
}

// ---- Legend ----
const legend = $('gb-legend');
function buildLegend() {
  const slots = state.mode === 2 ? [SLOT_CORRECT, SLOT_WRONG, SLOT_NONE] : state.mode === 1 ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, SLOT_NONE] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  legend.innerHTML = '';
  for (const slot of slots) {
    if (slot === SLOT_NONE && meta.hasPredictions.every(Boolean)) continue;
    const chip = document.createElement('span');
    chip.className = 'gb-chip' + (state.hidden[slot] ? ' gb-off' : '');
    chip.innerHTML = '<i style="background:' + HEX[slot] + '"></i>' + (state.mode === 1 && slot < 10 ? 'predicted ' : '') + SLOT_NAMES[slot];
    chip.title = 'Show or hide these points';
    chip.addEventListener('click', () => { state.hidden[slot] = !state.hidden[slot]; buildLegend(); drawBase(); });
    legend.appendChild(chip);
  }
  const note = document.createElement('span');
  note.className = 'gb-muted';
  note.style.alignSelf = 'center';
  note.textContent = state.mode === 0 ? 'colour: true label' : state.mode === 1 ? 'colour: predicted class at this epoch' : 'colour: prediction at this epoch';
  legend.appendChild(note);
}

// ---- Time: slider, tweening and play ----
let animation = null;
function animate(from, to, ms, ease, done) {
  if (animation) cancelAnimationFrame(animation.id);
  if (SELFTEST || ms <= 0 || from === to) { state.pos = to; animation = null; drawBase(); if (done) done(); return; }
  const start = performance.now();
  const tick = now => {
    const u = Math.min(1, (now - start) / ms);
    state.pos = from + (to - from) * ease(u);
    drawBase();
    if (state.hovered >= 0) showInspector(state.hovered);
    if (u < 1) animation.id = requestAnimationFrame(tick); else { animation = null; if (done) done(); }
  };
  animation = { id: requestAnimationFrame(tick) };
}
const smooth = u => u * u * (3 - 2 * u);
function goTo(frame) {
  stopPlaying();
  const to = Math.max(0, Math.min(F - 1, frame));
  animate(state.pos, to, 260 + 120 * Math.min(4, Math.abs(to - state.pos)), smooth);
  slider.value = String(to);
}
function stopPlaying() {
  if (!state.playing) return;
  state.playing = false;
  playButton.textContent = '▶ Play';
  playButton.setAttribute('aria-label', 'Play');
}
function play() {
  if (state.playing) { stopPlaying(); if (animation) cancelAnimationFrame(animation.id); animation = null; return; }
  if (F < 2) return;
  if (state.pos >= F - 1 - 1e-6) state.pos = 0;
  state.playing = true;
  playButton.textContent = '❚❚ Pause';
  playButton.setAttribute('aria-label', 'Pause');
  const perEpoch = 900, from = state.pos;
  // Each epoch: a short rest on the frame, then an eased move to the next.
  const ease = u => { const steps = (F - 1 - from) * u, whole = Math.floor(steps), part = steps - whole;
    return (whole + smooth(Math.max(0, (part - 0.2) / 0.8))) / (F - 1 - from || 1); };
  animate(from, F - 1, perEpoch * (F - 1 - from), ease, stopPlaying);
  const sync = () => { if (!state.playing) return; slider.value = String(Math.round(state.pos)); requestAnimationFrame(sync); };
  sync();
}
slider.addEventListener('input', () => goTo(Number(slider.value)));
playButton.addEventListener('click', play);

// ---- Modes and toggles ----
for (const b of document.querySelectorAll('.gb-segmented button')) {
  b.addEventListener('click', () => {
    state.mode = Number(b.dataset.mode);
    state.hidden.fill(false);
    for (const o of document.querySelectorAll('.gb-segmented button')) o.classList.toggle('gb-on', o === b);
    buildLegend(); drawBase(); showInspector(state.hovered);
  });
}
function showFinalMapIfNeeded() { if (state.pos < F - 1) goTo(F - 1); else drawBase(); }
if ($('gb-show-test')) $('gb-show-test').addEventListener('change', e => { state.showTest = e.target.checked; showFinalMapIfNeeded(); });
if ($('gb-show-mis')) $('gb-show-mis').addEventListener('change', e => { state.showMis = e.target.checked; showFinalMapIfNeeded(); });
function zoomAt(x, y, factor) {
  // Zoom by `factor` about device pixel (x, y), keeping the data under it in place.
  const k0 = state.zoom, k1 = Math.max(1, Math.min(60, k0 * factor));
  const cx = x / dpr, cy = y / dpr, w = W / dpr, h = H / dpr;
  state.panX = cx - w / 2 - (cx - w / 2 - state.panX) * k1 / k0;
  state.panY = cy - h / 2 - (cy - h / 2 - state.panY) * k1 / k0;
  if (k1 === 1) { state.panX = 0; state.panY = 0; }
  state.zoom = k1;
  drawBase();
}
function resetView() { state.zoom = 1; state.panX = 0; state.panY = 0; drawBase(); }
$('gb-reset').addEventListener('click', resetView);
$('gb-zoom-in').addEventListener('click', () => zoomAt(W / 2, H / 2, 1.6));
$('gb-zoom-out').addEventListener('click', () => zoomAt(W / 2, H / 2, 1 / 1.6));

// ---- Confusion matrix and gallery ----
const gallery = $('gb-gallery');
let galleryItems = [];
const THUMB = 34, GAP = 3;
function drawGallery(items, title) {
  if (!gallery) return;
  galleryItems = items.slice(0, 600);
  $('gb-gallery-title').textContent = title + (items.length > galleryItems.length ? ' (first ' + galleryItems.length + ')' : '');
  const width = gallery.parentElement.clientWidth || 300;
  const cols = Math.max(1, Math.floor((width + GAP) / (THUMB + GAP)));
  const rows = Math.ceil(galleryItems.length / cols);
  const gd = window.devicePixelRatio || 1;
  gallery.width = Math.round(cols * (THUMB + GAP) * gd); gallery.height = Math.max(1, Math.round(rows * (THUMB + GAP) * gd));
  gallery.style.width = cols * (THUMB + GAP) + 'px'; gallery.style.height = Math.max(1, rows * (THUMB + GAP)) + 'px';
  gallery.dataset.cols = cols;
  const g = gallery.getContext('2d');
  const paint = () => {
    g.setTransform(gd, 0, 0, gd, 0, 0);
    g.clearRect(0, 0, gallery.width, gallery.height);
    galleryItems.forEach((j, k) => {
      const x = (k % cols) * (THUMB + GAP), y = Math.floor(k / cols) * (THUMB + GAP);
      g.fillStyle = '#000'; g.fillRect(x, y, THUMB, THUMB);
      drawTile(g, N + j, x, y, THUMB);
      g.fillStyle = HEX[testPreds[j]] || '#999'; g.fillRect(x, y + THUMB - 4, THUMB, 4);
    });
  };
  paint();
  spritesReady.then(paint);
}
function galleryTitleDefault() { return 'Misclassified test images · ' + misclassified.length.toLocaleString('en-US'); }
if (gallery) {
  gallery.addEventListener('click', e => {
    const r = gallery.getBoundingClientRect(), cols = Number(gallery.dataset.cols);
    const k = Math.floor((e.clientY - r.top) / (THUMB + GAP)) * cols + Math.floor((e.clientX - r.left) / (THUMB + GAP));
    if (k < 0 || k >= galleryItems.length) return;
    const j = galleryItems[k];
    if (!state.selection) { state.showMis = true; if ($('gb-show-mis')) $('gb-show-mis').checked = true; }
    showFinalMapIfNeeded();
    state.hovered = -1; setHover(N + j);
  });
  drawGallery(misclassified, galleryTitleDefault());
}
function select(t, p, cellElement) {
  for (const c of document.querySelectorAll('.gb-cell.gb-picked')) c.classList.remove('gb-picked');
  if (!M || (state.selection && state.selection.t === t && state.selection.p === p)) { clearSelection(); return; }
  const list = [];
  for (let j = 0; j < M; j++) if (testLabels[j] === t && testPreds[j] === p) list.push(j);
  state.selection = { t, p, set: new Set(list) };
  if (cellElement) cellElement.classList.add('gb-picked');
  $('gb-clear').hidden = false;
  drawGallery(list, 'True ' + t + ', predicted ' + p + ' · ' + list.length.toLocaleString('en-US') + ' test images');
  showFinalMapIfNeeded();
}
function clearSelection() {
  state.selection = null;
  for (const c of document.querySelectorAll('.gb-cell.gb-picked')) c.classList.remove('gb-picked');
  if ($('gb-clear')) $('gb-clear').hidden = true;
  drawGallery(misclassified, galleryTitleDefault());
  drawBase();
}
for (const cell of document.querySelectorAll('.gb-cell')) {
  cell.addEventListener('click', () => select(Number(cell.dataset.t), Number(cell.dataset.p), cell));
}
if ($('gb-clear')) $('gb-clear').addEventListener('click', clearSelection);

// ---- Pointer: hover, tap, drag to pan, wheel to zoom ----
let drag = null;
function devicePoint(e) { const r = canvas.getBoundingClientRect(); return [(e.clientX - r.left) * dpr, (e.clientY - r.top) * dpr]; }
canvas.addEventListener('pointerdown', e => {
  drag = { x: e.clientX, y: e.clientY, panX: state.panX, panY: state.panY, moved: false };
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener('pointermove', e => {
  if (drag && (drag.moved || Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 4)) {
    drag.moved = true;
    state.panX = drag.panX + e.clientX - drag.x; state.panY = drag.panY + e.clientY - drag.y;
    canvas.style.cursor = 'grabbing';
    drawBase();
    return;
  }
  if (e.pointerType === 'mouse') { const [x, y] = devicePoint(e); setHover(hit(x, y)); }
});
canvas.addEventListener('pointerup', e => {
  if (drag && !drag.moved) { const [x, y] = devicePoint(e); setHover(hit(x, y)); }
  drag = null; canvas.style.cursor = '';
});
canvas.addEventListener('pointerleave', () => { if (!drag && state.hovered >= 0) { state.hovered = -1; drawOverlay(); } });
// Plain scrolling scrolls the page; Ctrl + scroll (and a trackpad pinch, which arrives as that) zooms.
let toastTimer = 0;
canvas.addEventListener('wheel', e => {
  if (!e.ctrlKey && !e.metaKey) {
    const toast = $('gb-toast');
    toast.hidden = false; clearTimeout(toastTimer); toastTimer = setTimeout(() => { toast.hidden = true; }, 1200);
    return;
  }
  e.preventDefault();
  const [x, y] = devicePoint(e);
  zoomAt(x, y, Math.exp(-e.deltaY * 0.0025));
}, { passive: false });
canvas.addEventListener('dblclick', resetView);

// ---- Size ----
function resize() {
  dpr = window.devicePixelRatio || 1;
  const cssW = Math.max(240, Math.floor(canvas.parentElement.clientWidth));
  const cssH = Math.round(Math.min(Math.max(cssW * 0.74, 320), 780));
  canvas.style.height = cssH + 'px';
  W = canvas.width = Math.round(cssW * dpr); H = canvas.height = Math.round(cssH * dpr);
  image = ctx.createImageData(W, H);
  pixels = new Uint32Array(image.data.buffer);
  drawBase();
}
let resizeTimer = 0;
window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { resize(); if (gallery) drawGallery(galleryItems, $('gb-gallery-title').textContent); }, 120); });

buildLegend();
resize();
{
  const epoch = Number(PARAMS.get('epoch')), point = Number(PARAMS.get('point')), test = Number(PARAMS.get('test'));
  if (PARAMS.has('epoch') && epoch >= 0 && epoch < F) { state.pos = Math.floor(epoch); slider.value = String(state.pos); drawBase(); }
  if (PARAMS.has('point') && point >= 0 && point < N) setHover(point);
  const colour = ['label', 'prediction', 'correct'].indexOf(PARAMS.get('colour'));
  if (colour >= 0) document.querySelector('.gb-segmented button[data-mode="' + colour + '"]').click();
  const cell = (PARAMS.get('cell') || '').split(',').map(Number);
  const cellElement = cell.length === 2 && document.querySelector('.gb-cell[data-t="' + cell[0] + '"][data-p="' + cell[1] + '"]');
  if (cellElement) cellElement.click();
  if (PARAMS.has('test') && test >= 0 && test < M) {
    state.showTest = true; if ($('gb-show-test')) $('gb-show-test').checked = true;
    state.pos = F - 1; slider.value = String(F - 1); drawBase(); setHover(N + test);
  }
}

// ---- Self-test for the headless-browser test: #selftest ----
function paintedPixels() {
  const d = ctx.getImageData(0, 0, W, H).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== BG[0] || d[i + 1] !== BG[1] || d[i + 2] !== BG[2]) n++;
  return { n, d };
}
// What sticks out of the layout: the page wider than the window, or a card's or panel's content
// wider than its box (e.g. the confusion table's last column past the side panel).
function layoutFit() {
  const boxes = [...document.querySelectorAll('.gb-panel, .gb-card')];
  return {
    windowWidth: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    overflowing: boxes.filter(b => b.scrollWidth > b.clientWidth + 1)
      .map(b => ((b.querySelector('h2, h3') || b).textContent || '').trim().slice(0, 40) + ': ' + b.scrollWidth + ' > ' + b.clientWidth),
  };
}
async function selftest() {
  const r = { points: N, testPoints: M, frames: F, canvas: [W, H] };
  // Written at each stage, so a run cut short still shows how far it got.
  const pre = document.createElement('pre');
  pre.id = 'selftest';
  document.body.appendChild(pre);
  const report = stage => { r.stage = stage; pre.textContent = JSON.stringify(r); };
  report('start');
  try {
    goTo(0);
    const a = paintedPixels();
    r.painted = a.n;
    slider.value = String(F - 1);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    r.position = state.pos;
    r.epochLabel = epochLabel.textContent;
    const b = paintedPixels();
    r.paintedLast = b.n;
    let changed = 0;
    for (let i = 0; i < a.d.length; i += 4) if (a.d[i] !== b.d[i] || a.d[i + 1] !== b.d[i + 1] || a.d[i + 2] !== b.d[i + 2]) changed++;
    r.changedPixels = changed;
    r.changed = changed > 0;
    let probe = -1;
    for (let i = 0; i < N; i++) if (sx[i] === sx[i]) { probe = i; break; }
    const found = probe >= 0 ? hit(sx[probe], sy[probe]) : -1;
    r.hover = { probe, found, distance: found >= 0 && found < N ? Math.hypot(sx[found] - sx[probe], sy[found] - sy[probe]) : null };
    const t0 = performance.now();
    for (let k = 0; k < 5; k++) { state.pos = (F - 1) * k / 5; drawBase(); }
    r.drawMs = (performance.now() - t0) / 5;
    goTo(F - 1);
    report('map');
    await spritesReady;
    r.sprites = sheets.map(s => [s.naturalWidth, s.naturalHeight]);
    if (tileOf(0) >= 0) {
      const c = document.createElement('canvas'); c.width = SP.side; c.height = SP.side;
      const g = c.getContext('2d');
      drawTile(g, 0, 0, 0, SP.side);
      const d = g.getImageData(0, 0, SP.side, SP.side).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) sum += d[i];
      r.tile0Sum = sum;
    }
    if (probe >= 0) { setHover(probe); r.inspector = $('gb-inspect-title').textContent; }
    if (M) {
      select(0, 0, document.querySelector('.gb-cell[data-t="0"][data-p="0"]'));
      r.selected = state.selection ? state.selection.set.size : 0;
      r.galleryTitle = $('gb-gallery-title').textContent;
    }
    r.layout = layoutFit();
    report('done');
  } catch (err) {
    r.error = String(err && err.stack || err);
    report('error');
  }
}
if (SELFTEST) selftest();
})();
