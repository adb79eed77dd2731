// swift-lenet's page: draw a digit, see every layer, train live. Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  model: null,          // id of the model in use
  classNames: [],
  strokes: [],          // each an array of [x, y] in pad pixels
  image: null,          // a dropped or chosen file, classified instead of the strokes
  last: null,           // the last prediction response
  inFlight: false,
  again: false,
  penUp: null,          // when the pen last left the pad, until the answer to it shows
  offline: false,       // the server does not answer
  tab: "draw",
};

// MARK: API

/// A JSON request; an answer that is not 2xx throws its error. A server that does not answer
/// throws with `offline` set, and shows the banner until the event stream reconnects.
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    setOffline(true);
    throw Object.assign(new Error("the server is not answering"), { offline: true });
  }
  const body = await response.json().catch(() => ({ error: "unreadable answer" }));
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status, field: body.field });
  return body;
}

/// The server is unreachable: one banner, every control that needs it disabled.
function setOffline(offline) {
  if (state.offline === offline) return;
  state.offline = offline;
  $("offline").hidden = !offline;
  sketch.classList.toggle("offline", offline);
  for (const control of document.querySelectorAll("#model, #undo, #clear, #file, #train-form input, #train-form select")) control.disabled = offline;
  setButtons(offline ? "offline" : training.state);
}

// MARK: Models

/// Fills the picker. This visitor's choice (kept in the browser) stands while its model is
/// available; otherwise the server's default. Returns whether the model in use changed.
async function loadModels() {
  const models = await api("/api/models");
  const picker = $("model");
  picker.innerHTML = "";
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.id;
    const accuracy = m.testAccuracy != null ? ` (${m.testAccuracy.toFixed(2)}%)` : "";
    option.textContent = m.available ? m.name + accuracy : `${m.name} (unavailable: ${m.problem})`;
    option.disabled = !m.available;
    picker.appendChild(option);
  }
  const chosen = localStorage.getItem("lenet5.model");
  const usable = (id) => models.some((m) => m.id === id && m.available);
  const fallback = models.find((m) => m.default);
  const picked = usable(chosen) ? chosen : fallback ? fallback.id : null;
  if (picked) picker.value = picked;
  // A corrected copy answers until it is saved or dropped.
  const model = state.copy ? state.copy.id : picked;
  const changed = model !== state.model;
  state.model = model;
  const current = models.find((m) => m.id === picked);
  state.classNames = current ? current.classNames : [];
  if (changed) {
    loadFilters();
    loadWeights();
  }
  return changed;
}

$("model").addEventListener("change", () => {
  localStorage.setItem("lenet5.model", $("model").value);
  useCopy(null);
  loadModels().then(predict).catch(() => {});
});

// MARK: Drawing

const sketch = $("sketch");
const pen = sketch.getContext("2d");
const strokeWidth = 24;  // of 280: about MNIST's stroke once the digit is scaled to its 20x20 box

function redraw() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, sketch.width, sketch.height);
  if (state.image) {
    const { bitmap } = state.image;
    const scale = Math.min(sketch.width / bitmap.width, sketch.height / bitmap.height);
    const w = bitmap.width * scale, h = bitmap.height * scale;
    pen.drawImage(bitmap, (sketch.width - w) / 2, (sketch.height - h) / 2, w, h);
    return;
  }
  pen.strokeStyle = "#111";
  pen.fillStyle = "#111";
  pen.lineWidth = strokeWidth;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  for (const stroke of state.strokes) {
    if (stroke.length === 1) {
      pen.beginPath();
      pen.arc(stroke[0][0], stroke[0][1], strokeWidth / 2, 0, 2 * Math.PI);
      pen.fill();
      continue;
    }
    pen.beginPath();
    pen.moveTo(stroke[0][0], stroke[0][1]);
    for (const [x, y] of stroke.slice(1)) pen.lineTo(x, y);
    pen.stroke();
  }
}

function point(event) {
  const box = sketch.getBoundingClientRect();
  return [(event.clientX - box.left) * (sketch.width / box.width), (event.clientY - box.top) * (sketch.height / box.height)];
}

let drawing = false;
sketch.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  // No drawing the server cannot answer: the answer shown stays the drawing's.
  if (state.offline) return;
  sketch.setPointerCapture(event.pointerId);
  drawing = true;
  state.image = null;
  state.strokes.push([point(event)]);
  redraw();
  schedulePredict();
});
sketch.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  event.preventDefault();
  state.strokes[state.strokes.length - 1].push(point(event));
  redraw();
  schedulePredict();
});
for (const name of ["pointerup", "pointercancel"]) {
  sketch.addEventListener(name, () => {
    if (!drawing) return;
    drawing = false;
    clearTimeout(timer);
    timer = null;
    state.penUp = performance.now();
    predict();
  });
}

$("undo").addEventListener("click", () => {
  if (state.image) state.image = null;
  else state.strokes.pop();
  redraw();
  predict();
});
$("clear").addEventListener("click", () => {
  state.strokes = [];
  state.image = null;
  redraw();
  predict();
});

async function useFile(file) {
  if (!file) return;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    bitmap = null;  // PGM: the browser cannot show it, the server can still read it
  }
  state.strokes = [];
  state.image = { file, bitmap: bitmap || (await blankBitmap()) };
  redraw();
  predict();
}

async function blankBitmap() {
  const c = document.createElement("canvas");
  c.width = c.height = 1;
  return createImageBitmap(c);
}

$("file").addEventListener("change", (event) => useFile(event.target.files[0]));
sketch.addEventListener("dragover", (event) => { event.preventDefault(); sketch.classList.add("dropping"); });
sketch.addEventListener("dragleave", () => sketch.classList.remove("dropping"));
sketch.addEventListener("drop", (event) => {
  event.preventDefault();
  sketch.classList.remove("dropping");
  useFile(event.dataTransfer.files[0]);
});

// MARK: Prediction

// While the pen moves, an answer at most every 40 ms; at pen-up, at once.
let timer = null;
function schedulePredict() {
  if (timer) return;
  timer = setTimeout(() => { timer = null; predict(); }, 40);
}

/// The pad's ink at half size, as the JSON pixels of a picture: the server prepares it as it
/// does an image file, and nothing is encoded on the way (a PNG of the pad took the browser
/// most of a second).
const reduced = document.createElement("canvas");
reduced.width = reduced.height = sketch.width / 2;
function padPixels() {
  const context = reduced.getContext("2d", { willReadFrequently: true });
  context.drawImage(sketch, 0, 0, reduced.width, reduced.height);
  const rgba = context.getImageData(0, 0, reduced.width, reduced.height).data;
  const pixels = new Array(reduced.width * reduced.height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[4 * i];
  return JSON.stringify({ width: reduced.width, height: reduced.height, pixels });
}

async function predict() {
  if (state.inFlight) { state.again = true; return; }
  if (!state.image && state.strokes.length === 0) { showEmpty(); return; }
  state.inFlight = true;
  const started = performance.now();
  const penUp = state.penUp;
  state.penUp = null;
  try {
    const [type, body] = state.image ? [state.image.file.type || "application/octet-stream", state.image.file] : ["application/json", padPixels()];
    const activations = state.tab === "network" ? "&activations=1" : "";
    const result = await api(`/api/predict?model=${encodeURIComponent(state.model || "")}${activations}`, {
      method: "POST", headers: { "Content-Type": type }, body,
    });
    state.last = result;
    showPrediction(result, performance.now() - (penUp ?? started));
  } catch (error) {
    if (error.status === 422) showEmpty(); else if (!error.offline) showError(error.message);
  } finally {
    state.inFlight = false;
    if (state.again) { state.again = false; predict(); }
  }
}

function showEmpty() {
  state.last = null;
  $("correct").hidden = true;
  const guess = $("guess");
  guess.textContent = "draw a digit";
  guess.className = "guess empty";
  $("bars").innerHTML = "";
  $("timing").textContent = "";
  const input = $("input").getContext("2d");
  input.fillStyle = "#000";
  input.fillRect(0, 0, 140, 140);
  renderLayers();
}

function showError(message) {
  const guess = $("guess");
  guess.textContent = message;
  guess.className = "guess empty";
  $("bars").innerHTML = "";
}

/// Below this probability of being a digit (the server's detector), the page says it is not sure.
const digitThreshold = 0.5;

function showPrediction(result, milliseconds) {
  const names = result.classNames;
  const guess = $("guess");
  const top = names[result.ranked[0]];
  if (result.digitProbability != null && result.digitProbability < digitThreshold) {
    // The model answers with a digit whatever it is shown; the detector says this is not one.
    guess.textContent = `not sure this is a digit (it looks most like a ${top})`;
    guess.className = "guess unsure";
  } else {
    guess.textContent = top;
    guess.className = top.length > 2 ? "guess empty" : "guess";
  }
  const bars = $("bars");
  bars.innerHTML = "";
  result.probabilities.forEach((p, k) => {
    const row = document.createElement("div");
    row.className = "bar" + (k === result.ranked[0] ? " top" : "");
    row.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
    row.querySelector(".name").textContent = names[k];
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${(100 * p).toFixed(1)}%`;
    bars.appendChild(row);
  });
  // What the user waited: from pen-up (or the request, while drawing) to this answer.
  $("timing").textContent = `answered in ${milliseconds.toFixed(0)} ms`;
  showCorrect(names);
  paintGray($("input"), result.input.pixels, result.input.width, result.input.height, 0, 255);
  renderLayers();
}

// MARK: Correct it

/// The digit buttons under an answer: a click teaches the drawing to a private copy of the model.
function showCorrect(names) {
  const box = $("correct");
  box.hidden = names.join() !== "0123456789".split("").join();
  const buttons = $("correct-buttons");
  if (buttons.childElementCount) return;
  names.forEach((name, label) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.setAttribute("aria-label", `it is a ${name}: teach it`);
    button.addEventListener("click", () => correct(label));
    buttons.appendChild(button);
  });
}

/// Teaches the current drawing as `label` to the copy (a new one of the model in use the first
/// time), shows how the steps went, and answers with the copy from then on.
async function correct(label) {
  const status = $("correct-status");
  const buttons = [...$("correct-buttons").children];
  for (const b of buttons) b.disabled = true;
  status.textContent = `teaching it that this is a ${label}...`;
  const [type, body] = state.image ? [state.image.file.type || "application/octet-stream", state.image.file] : ["application/json", padPixels()];
  const where = state.copy ? `copy=${encodeURIComponent(state.copy.id)}` : `model=${encodeURIComponent(state.model || "")}`;
  try {
    const result = await api(`/api/correct?${where}&label=${label}`, { method: "POST", headers: { "Content-Type": type }, body });
    const first = result.steps[0].probabilities[label], last = result.steps[result.steps.length - 1].probabilities[label];
    const steps = result.steps.length;
    status.textContent = `${steps} step${steps === 1 ? "" : "s"} of training on this drawing and MNIST: p(${label}) ${(100 * first).toFixed(1)}% after the first, ` +
      `${(100 * last).toFixed(1)}% after the last; ${result.readsRight ? "every correction so far reads right" : "not every correction reads right yet"}. ` +
      `MNIST test accuracy ${result.testAccuracyBefore.toFixed(2)}% -> ${result.testAccuracy.toFixed(2)}%.`;
    useCopy({ id: result.copy, base: result.base, corrections: result.corrections });
  } catch (error) {
    if (!error.offline) status.textContent = error.message;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

/// Answers with a corrected copy from now on, or (null) with the picked model again.
function useCopy(copy) {
  state.copy = copy;
  $("copy-bar").hidden = !copy;
  if (copy) {
    $("copy-base").textContent = copy.base;
    $("copy-count").textContent = `${copy.corrections} correction${copy.corrections === 1 ? "" : "s"}`;
    state.model = copy.id;
  } else {
    state.model = $("model").value || null;
    $("correct-status").textContent = "";
  }
  loadWeights();
  predict();
}

$("copy-drop").addEventListener("click", () => useCopy(null));
$("copy-save").addEventListener("click", async () => {
  if (!state.copy) return;
  try {
    const saved = await api(`/api/correct/save?copy=${encodeURIComponent(state.copy.id)}`, { method: "POST" });
    localStorage.setItem("lenet5.model", saved.model);
    state.copy = null;
    $("copy-bar").hidden = true;
    $("correct-status").textContent = `saved as the run ${saved.run}: it is in the model picker.`;
    await loadModels();
    predict();
  } catch (error) {
    if (!error.offline) $("correct-status").textContent = error.message;
  }
});

// MARK: Pictures of numbers

/// Draws `values` (row-major, width x height) onto `canvas`, scaled to its size without
/// smoothing, each value in the colour `color` gives it ([r, g, b]).
function paintWith(canvas, values, width, height, color) {
  const small = document.createElement("canvas");
  small.width = width;
  small.height = height;
  const context = small.getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([...color(values[i]), 255], 4 * i);
  context.putImageData(image, 0, 0);
  const target = canvas.getContext("2d");
  target.imageSmoothingEnabled = false;
  target.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/// Grays from `low` (black) to `high` (white).
function paintGray(canvas, values, width, height, low, high) {
  const span = high - low || 1;
  paintWith(canvas, values, width, height, (value) => {
    const v = Math.max(0, Math.min(255, Math.round(255 * (value - low) / span)));
    return [v, v, v];
  });
}

/// Signed values on a diverging scale: blue for negative, white for zero, red for positive,
/// full colour at +-`limit` (`paintGray`'s `high`; `low` is -limit).
function paintDiverging(canvas, values, width, height, low, limit) {
  paintWith(canvas, values, width, height, (value) => {
    const t = Math.max(-1, Math.min(1, value / (limit || 1)));
    return t >= 0 ? [255, 255 - 200 * t, 255 - 210 * t] : [255 + 210 * t, 255 + 150 * t, 255];
  });
}

/// A scale bar from `low` to `high` in the colours of `paint` (`paintGray`, `paintDiverging`).
function legend(low, high, paint) {
  const box = document.createElement("div");
  box.className = "legend";
  const bar = document.createElement("canvas");
  bar.width = 120;
  bar.height = 10;
  paint(bar, Array.from({ length: 120 }, (_, k) => low + (high - low) * k / 119), 120, 1, low, high);
  box.append(`${low.toPrecision(2)} `, bar, ` ${high.toPrecision(2)}`);
  return box;
}

/// A canvas showing one map, with its values under a pointer or a tap.
/// `pick(x, y)`, when given, is called with the cell clicked or tapped.
function mapCanvas(values, width, height, scale, low, high, label, paint = paintGray, pick = null) {
  const canvas = document.createElement("canvas");
  canvas.width = width * scale;
  canvas.height = height * scale;
  canvas.dataset.scale = scale;
  paint(canvas, values, width, height, low, high);
  if (pick) {
    canvas.classList.add("pickable");
    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      const x = Math.floor((event.clientX - box.left) / box.width * width);
      const y = Math.floor((event.clientY - box.top) / box.height * height);
      if (values[y * width + x] !== undefined) pick(x, y);
    });
  }
  // A pointer shows the value under it; a tap (no hover on a phone) shows it until the next.
  const show = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor((event.clientX - box.left) / box.width * width);
    const y = Math.floor((event.clientY - box.top) / box.height * height);
    const value = values[y * width + x];
    if (value === undefined) return;
    const tip = $("tooltip");
    tip.textContent = `${label} (${y}, ${x}): ${value.toPrecision(4)}`;
    tip.style.left = `${Math.min(event.clientX + 12, window.innerWidth - 200)}px`;
    tip.style.top = `${event.clientY + 12}px`;
    tip.style.display = "block";
  };
  canvas.addEventListener("mousemove", show);
  canvas.addEventListener("pointerdown", show);
  canvas.addEventListener("mouseleave", () => { $("tooltip").style.display = "none"; });
  return canvas;
}

// MARK: Network view

document.addEventListener("pointerdown", (event) => {
  if (!event.target.closest(".maps")) $("tooltip").style.display = "none";
});
// A tip is placed where the cell was: it goes when the page moves under it.
window.addEventListener("scroll", () => { $("tooltip").style.display = "none"; }, { passive: true });

function renderLayers(withBackward = true) {
  if (state.tab !== "network") return;
  const root = $("layers");
  root.innerHTML = "";
  const activations = state.last && state.last.activations;
  if (!activations) {
    $("network-hint").textContent = state.last ? "Loading the layers..." : "Draw a digit on the Draw tab to see every layer's output.";
    if (state.last) predict();
    return;
  }
  $("network-hint").textContent = "Every layer's output for the current drawing (white high, black low, each map on its stage's range); point at a cell for its value, click or tap it for its arithmetic.";
  const names = state.last.classNames;
  for (const a of activations) root.appendChild(stageSection(a, names, false));
  if (withBackward) loadBackward();
}

const stageWords = { input: "the image, padded to 32x32 and normalised", C1: "convolution 5x5 + ReLU", S2: "max-pool 2x2", C3: "convolution 5x5 + ReLU", S4: "max-pool 2x2",
  C5: "convolution 5x5 + ReLU", F6: "fully connected + ReLU", F7: "fully connected (logits)", output: "softmax" };

/// One stage's maps: its output (grays on the stage's range), or a gradient (`signed`: the
/// diverging scale, symmetric about zero, with its legend).
function stageSection(a, names, signed) {
  const { channels, height, width } = a.shape;
  const section = document.createElement("div");
  section.className = "layer";
  section.id = `${signed ? "gradient" : "layer"}-${a.stage}`;
  const title = document.createElement("h3");
  title.textContent = `${a.stage}: ${stageWords[a.stage] || ""} (${channels} x ${height} x ${width})`;
  section.appendChild(title);
  const maps = document.createElement("div");
  maps.className = "maps";
  const limit = Math.max(...a.values.map(Math.abs)) || 1;
  const [low, high, paint] = signed ? [-limit, limit, paintDiverging] : [Math.min(...a.values), Math.max(...a.values), paintGray];
  const what = signed ? `${a.stage} gradient` : a.stage;
  if (height > 1) maps.classList.add("row");
  // A click on a unit of the forward pass explains its value.
  const pick = signed || a.stage === "input" ? null : (c, y, x) => explain(a.stage, c, y, x);
  if (height > 1) {
    // A row of maps fits 860 px (a desktop's network column); narrower screens scroll it.
    const scale = Math.max(2, Math.floor(Math.min(84, 860 / channels - 4) / height));
    for (let c = 0; c < channels; c++) {
      maps.appendChild(mapCanvas(a.values.slice(c * height * width, (c + 1) * height * width), width, height, scale, low, high, `${what} map ${c}`, paint,
        pick && ((x, y) => pick(c, y, x))));
    }
  } else if (a.stage === "output" || a.stage === "F7") {
    maps.appendChild(mapCanvas(a.values, channels, 1, 28, low, high, `${what}, classes ${names.join(" ")}:`, paint, pick && ((x) => pick(x, 0, 0))));
    const legend = document.createElement("div");
    legend.className = "hint";
    legend.textContent = a.values.map((v, k) => `${names[k]}: ${a.stage === "output" ? (100 * v).toFixed(1) + "%" : v.toFixed(2)}`).join("   ");
    maps.appendChild(legend);
  } else {
    const columns = channels === 120 ? 20 : 14;
    const rows = Math.ceil(channels / columns);
    const padded = a.values.concat(new Array(rows * columns - channels).fill(signed ? 0 : low));
    maps.appendChild(mapCanvas(padded, columns, rows, 14, low, high, `${what} unit`, paint,
      pick && ((x, y) => { if (y * columns + x < channels) pick(y * columns + x, 0, 0); })));
  }
  section.appendChild(maps);
  section.appendChild(legend(low, high, paint));
  return section;
}

// MARK: A unit's arithmetic

/// The stage each stage reads, and what it does with it.
const previousStage = { C1: "input", S2: "C1", C3: "S2", S4: "C3", C5: "S4", F6: "C5", F7: "F6", output: "F7" };

/// The model's parameters (`/api/weights`), loaded when the model changes.
async function loadWeights() {
  const model = state.model;
  state.weights = null;
  if (!model) return;
  try {
    const weights = await api(`/api/weights?model=${encodeURIComponent(model)}`);
    if (state.model === model) state.weights = Object.fromEntries(weights.stages.map((w) => [w.stage, w]));
  } catch {
    state.weights = null;
  }
}

const number = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(3));

/// A small table of numbers (rows of values), optionally with a caption.
function numberTable(caption, rows) {
  const table = document.createElement("table");
  table.className = "numbers";
  if (caption) table.createCaption().textContent = caption;
  for (const row of rows) {
    const tr = table.insertRow();
    for (const v of row) tr.insertCell().textContent = typeof v === "number" ? number(v) : v;
  }
  return table;
}

/// Outlines cells of `stage`'s maps: `channels` (or every map), a box from (x, y) of w x h cells.
function outline(stage, channels, x, y, w, h) {
  const canvases = [...document.querySelectorAll(`#layer-${stage} .maps canvas`)];
  canvases.forEach((canvas, c) => {
    if (channels && !channels.includes(c)) return;
    const scale = Number(canvas.dataset.scale);
    const context = canvas.getContext("2d");
    context.strokeStyle = "#e8a000";
    context.lineWidth = 2;
    context.strokeRect(x * scale + 1, y * scale + 1, w * scale - 2, h * scale - 2);
  });
}

/// Explains the value of one unit of the current drawing's forward pass with its real numbers:
/// a convolution's patches, kernels, products, sums, bias and ReLU; a max-pool's window; a fully
/// connected unit's largest contributions; the softmax's exponentials. Its receptive field in the
/// stage below is outlined. The result, computed here from the served activations and weights, is
/// shown beside the value the server's forward pass gave (they agree to float precision).
function explain(stage, channel, y, x) {
  const acts = Object.fromEntries((state.last.activations || []).map((a) => [a.stage, a]));
  const a = acts[stage], below = acts[previousStage[stage]];
  const weights = state.weights && state.weights[stage];
  if (!a || !below || (!weights && !["S2", "S4", "output"].includes(stage))) return;
  renderLayers(false);
  const { height: H, width: W } = a.shape;
  const served = a.values[(channel * H + y) * W + x];
  const panel = document.createElement("div");
  panel.id = "explain";
  panel.className = "explain";
  panel.setAttribute("aria-live", "polite");
  const heading = document.createElement("h3");
  const where = H > 1 ? `map ${channel}, row ${y}, column ${x}` : `unit ${channel}`;
  heading.textContent = `${stage} ${where}: ${number(served)}`;
  panel.appendChild(heading);
  const text = (line) => { const p = document.createElement("p"); p.textContent = line; panel.appendChild(p); };
  let computed;
  const { channels: C, height: h, width: w } = below.shape;
  const plane = (c) => (i, j) => below.values[(c * h + i) * w + j];
  if (stage === "S2" || stage === "S4") {
    const at = plane(channel);
    const window = [[at(2 * y, 2 * x), at(2 * y, 2 * x + 1)], [at(2 * y + 1, 2 * x), at(2 * y + 1, 2 * x + 1)]];
    computed = Math.max(...window.flat());
    text(`The largest of the 2x2 window of ${previousStage[stage]} map ${channel} at rows ${2 * y}-${2 * y + 1}, columns ${2 * x}-${2 * x + 1}:`);
    panel.appendChild(numberTable(null, window));
    outline(previousStage[stage], [channel], 2 * x, 2 * y, 2, 2);
  } else if (stage === "output") {
    const logits = below.values, top = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - top)), sum = exps.reduce((p, q) => p + q, 0);
    computed = exps[channel] / sum;
    text(`Softmax: e^(logit - ${number(top)}) for each class, divided by their sum ${number(sum)}.`);
    panel.appendChild(numberTable(null, [["class", ...state.last.classNames], ["logit", ...logits], ["e^(logit - max)", ...exps], ["share", ...exps.map((e) => e / sum)]]));
  } else if (weights.weightShape.length === 4) {
    // A convolution: one 5x5 patch per input map, times that map's kernel, summed, plus the bias.
    const k = weights.weightShape[2];
    const kernel = (c) => (i, j) => weights.weights[((channel * C + c) * k + i) * k + j];
    const sums = [];
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) s += plane(c)(y + i, x + j) * kernel(c)(i, j);
      sums.push(s);
    }
    const bias = weights.biases[channel], total = sums.reduce((p, q) => p + q, 0) + bias;
    computed = Math.max(0, total);
    text(`ReLU(the sum over ${C} input map${C > 1 ? "s" : ""} of patch x kernel, element by element, + the bias).`);
    // The map that contributes most, in full.
    const c = sums.reduce((best, s, k2) => (Math.abs(s) > Math.abs(sums[best]) ? k2 : best), 0);
    const grid = (f) => Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => f(i, j)));
    const tables = document.createElement("div");
    tables.className = "tables";
    tables.append(
      numberTable(`${previousStage[stage]} map ${c}, rows ${y}-${y + k - 1}, columns ${x}-${x + k - 1}`, grid((i, j) => plane(c)(y + i, x + j))),
      numberTable(`kernel ${channel} <- ${c}`, grid(kernel(c))),
      numberTable(`products (sum ${number(sums[c])})`, grid((i, j) => plane(c)(y + i, x + j) * kernel(c)(i, j))));
    panel.appendChild(tables);
    if (C > 1) panel.appendChild(numberTable("patch x kernel, summed, for each input map", [["map", ...sums.map((_, k2) => String(k2))], ["sum", ...sums]]));
    text(`${sums.map(number).join(" + ")} + bias ${number(bias)} = ${number(total)}; ReLU: ${number(computed)}`);
    outline(previousStage[stage], null, x, y, k, k);
  } else {
    // Fully connected: every input times its weight, the largest contributions named.
    const inputs = weights.weightShape[1];
    const terms = below.values.map((v, i) => [i, v, weights.weights[channel * inputs + i]]);
    const ranked = [...terms].sort((p, q) => Math.abs(q[1] * q[2]) - Math.abs(p[1] * p[2]));
    const shown = ranked.slice(0, 6), rest = ranked.slice(6).reduce((sum, t) => sum + t[1] * t[2], 0);
    const bias = weights.biases[channel];
    const total = terms.reduce((sum, t) => sum + t[1] * t[2], 0) + bias;
    computed = stage === "F6" ? Math.max(0, total) : total;
    text(`${stage === "F6" ? "ReLU(" : ""}the sum of ${inputs} inputs x weights + the bias${stage === "F6" ? ")" : ""}; the largest contributions:`);
    panel.appendChild(numberTable(null, [["input", "value", "weight", "product"], ...shown.map(([i, v, wgt]) => [`${previousStage[stage]} ${i}`, v, wgt, v * wgt]),
      [`the other ${inputs - shown.length}`, "", "", rest], ["bias", "", "", bias], ["sum", "", "", total]]));
    if (stage === "F6") text(`ReLU: ${number(computed)}`);
    const columns = inputs === 120 ? 20 : 14;
    for (const [i] of shown) outline(previousStage[stage], null, i % columns, Math.floor(i / columns), 1, 1);
  }
  const check = document.createElement("p");
  check.className = "check";
  check.textContent = `computed here: ${number(computed)}; the server's forward pass: ${number(served)}`;
  panel.dataset.computed = computed;
  panel.dataset.served = served;
  panel.appendChild(check);
  $(`layer-${stage}`).after(panel);
}

// MARK: Backward view

/// The class the backward view measures the loss against: null for the model's answer.
state.target = null;

function targetButtons() {
  const root = $("targets");
  if (root.childElementCount) return;
  const names = state.classNames.length ? state.classNames : [..."0123456789"];
  ["the answer", ...names].forEach((name, k) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.setAttribute("aria-pressed", String(k === 0));
    button.addEventListener("click", () => {
      state.target = k === 0 ? null : k - 1;
      for (const b of root.children) b.setAttribute("aria-pressed", String(b === button));
      loadBackward();
    });
    root.appendChild(button);
  });
}

let backwardRequest = 0;
/// Asks the server for the backward pass of the current drawing against the chosen target,
/// and draws it: the pixels that would move the answer, every stage's gradient, the kernels'.
async function loadBackward() {
  // While the pen moves the forward view follows it; the backward pass waits for pen-up.
  if (state.tab !== "network" || !state.last || state.offline || drawing) return;
  targetButtons();
  const ticket = ++backwardRequest;
  const [type, body] = state.image ? [state.image.file.type || "application/octet-stream", state.image.file] : ["application/json", padPixels()];
  const target = state.target == null ? "" : `&target=${state.target}`;
  let result;
  try {
    result = await api(`/api/gradients?model=${encodeURIComponent(state.model || "")}${target}`, { method: "POST", headers: { "Content-Type": type }, body });
  } catch {
    return;
  }
  if (ticket !== backwardRequest) return;
  const { backward, classNames } = result;
  const name = classNames[backward.target];
  $("backward-hint").textContent = `The loss for "${name}" is -log p(${name}) = ${backward.loss.toFixed(4)} (p = ${(100 * backward.probabilities[backward.target]).toFixed(2)}%). ` +
    "Each map is the gradient of that loss with respect to a layer's output: red where a larger value would raise the loss, blue where it would lower it (zero, white, where a ReLU is off). " +
    "Computed by the network's own backward pass, the one training runs.";
  const root = $("backward");
  root.innerHTML = "";
  const pixels = document.createElement("div");
  pixels.className = "layer";
  pixels.id = "gradient-input";
  const title = document.createElement("h3");
  title.textContent = `input pixels (28 x 28): blue where more ink would make it more of a ${name}, red where less`;
  const limit = Math.max(...backward.input.map(Math.abs)) || 1;
  const maps = document.createElement("div");
  maps.className = "maps";
  maps.appendChild(mapCanvas(result.input.pixels, 28, 28, 6, 0, 255, "pixel"));
  maps.appendChild(mapCanvas(backward.input, 28, 28, 6, -limit, limit, "dLoss/dpixel", paintDiverging));
  pixels.append(title, maps, legend(-limit, limit, paintDiverging));
  root.appendChild(pixels);
  for (const stage of [...backward.stages].reverse()) root.appendChild(stageSection(stage, classNames, true));
  const kernels = document.createElement("h3");
  kernels.textContent = "the kernels' gradients (what one SGD step on this drawing would subtract, times the learning rate)";
  root.appendChild(kernels);
  for (const k of backward.kernels) {
    const inputs = k.stage === "C1" ? 1 : 6;
    const outputs = k.shape.channels / inputs;
    const section = document.createElement("div");
    section.className = "layer";
    section.id = `gradient-kernels-${k.stage}`;
    const heading = document.createElement("h3");
    heading.textContent = `${k.stage}: ${outputs} x ${inputs} kernels (5 x 5)`;
    const grid = document.createElement("div");
    grid.className = "maps";
    const largest = Math.max(...k.values.map(Math.abs)) || 1;
    for (let o = 0; o < outputs; o++) {
      for (let c = 0; c < inputs; c++) {
        const start = (o * inputs + c) * 25;
        grid.appendChild(mapCanvas(k.values.slice(start, start + 25), 5, 5, inputs === 1 ? 10 : 6, -largest, largest, `${k.stage} kernel ${o}<-${c} gradient`, paintDiverging));
      }
    }
    section.append(heading, grid, legend(-largest, largest, paintDiverging));
    root.appendChild(section);
  }
}

async function loadFilters() {
  const root = $("filters");
  root.innerHTML = "";
  if (!state.model) return;
  let filters;
  try {
    filters = await api(`/api/filters?model=${encodeURIComponent(state.model)}`);
  } catch {
    return;
  }
  for (const f of filters) {
    const section = document.createElement("div");
    section.className = "layer";
    const title = document.createElement("h3");
    title.textContent = f.inputs === 1
      ? `${f.stage}: its ${f.outputs} kernels (${f.kernel}x${f.kernel})`
      : `${f.stage}: kernels from each of ${f.inputs} input maps (rows) to each of ${f.outputs} output maps (columns)`;
    section.appendChild(title);
    const size = f.kernel * f.kernel;
    for (let c = 0; c < f.inputs; c++) {
      const row = document.createElement("div");
      row.className = "maps";
      for (let o = 0; o < f.outputs; o++) {
        const start = (o * f.inputs + c) * size;
        const kernel = f.weights.slice(start, start + size);
        const low = Math.min(...kernel), high = Math.max(...kernel);
        row.appendChild(mapCanvas(kernel, f.kernel, f.kernel, f.inputs === 1 ? 10 : 6, low, high, `${f.stage} kernel ${o}<-${c}`));
      }
      section.appendChild(row);
    }
    root.appendChild(section);
  }
}

// MARK: Tabs

const tabs = [...document.querySelectorAll(".tab")];

function selectTab(button, focus = false) {
  state.tab = button.getAttribute("aria-controls");
  for (const b of tabs) {
    const selected = b === button;
    b.setAttribute("aria-selected", String(selected));
    b.tabIndex = selected ? 0 : -1;
  }
  for (const panel of document.querySelectorAll(".panel")) panel.classList.toggle("active", panel.id === state.tab);
  // The pad and the answer go where the drawing is watched: the Draw tab, or beside the network.
  const pad = document.querySelector(".pad"), answer = document.querySelector(".answer");
  if (state.tab === "network") $("network-side").append(pad, answer);
  if (state.tab === "draw") $("draw").prepend(pad, answer);
  if (focus) button.focus();
  if (state.tab === "network") renderLayers();
  if (state.tab === "train") drawCharts();
}

tabs.forEach((button, k) => {
  button.addEventListener("click", () => selectTab(button));
  // The arrow keys, Home and End move between tabs, as in every tab list.
  button.addEventListener("keydown", (event) => {
    const to = { ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    selectTab(tabs[(to + tabs.length) % tabs.length], true);
  });
});

// MARK: Training

/// The run as the server tells it: its state (buttons and messages follow it), and what the
/// charts show. The event stream stays open across runs: the state and the run's history first
/// (again on every reconnection), then everything as it happens.
const training = { state: "idle", run: null, resumeCommand: null, busy: false };
const run = { batches: 0, epochs: 0, batchSize: 0, evaluationSeconds: 0, losses: [], accuracy: [], sample: null };

function field(name) { return document.querySelector(`#train-form [name=${name}]`); }

/// Each preset's recipe with every option filled in: what the form's empty fields stand for.
const presets = new Map();

function showPresetPlaceholders() {
  const recipe = presets.get(field("preset").value);
  if (!recipe) return;
  const o = recipe.options;
  for (const name of ["epochs", "batchSize", "learningRate", "labelSmoothing", "seed", "schedule", "augment"]) field(name).placeholder = String(o[name]);
  field("warmupEpochs").placeholder = String(o.warmupEpochs ?? 1);
  field("trainingImages").placeholder = `all ${recipe.trainingImages.toLocaleString()}`;
  field("optimizer").options[0].textContent = `preset's (${o.optimizer})`;
}

function loadPresets() {
  api("/api/train/presets").then((recipes) => {
    for (const recipe of recipes) presets.set(recipe.name, recipe);
    showPresetPlaceholders();
  }).catch(() => {});
}

field("preset").addEventListener("change", showPresetPlaceholders);
loadPresets();

function clearErrors() {
  for (const span of document.querySelectorAll(".error")) span.textContent = "";
  for (const input of document.querySelectorAll("#train-form input")) input.classList.remove("invalid");
}

function message(text, bad = false) {
  const m = $("train-message");
  m.textContent = text;
  m.className = "message" + (bad ? " bad" : "");
}

$("train-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (training.busy || state.offline) return;
  clearErrors();
  const options = { preset: field("preset").value };
  for (const name of ["epochs", "batchSize", "learningRate", "warmupEpochs", "labelSmoothing", "seed", "trainingImages"]) {
    const text = field(name).value.trim();
    if (text === "") continue;
    const number = Number(text);
    if (!Number.isFinite(number)) { showFieldError(name, "must be a number"); return; }
    options[name] = number;
  }
  for (const name of ["schedule", "augment", "optimizer"]) {
    const text = field(name).value.trim();
    if (text) options[name] = text;
  }
  await act("starting...", () => api("/api/train", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(options) }));
});

function showFieldError(name, text) {
  const span = document.querySelector(`.error[data-for=${name}]`);
  if (span) span.textContent = text; else message(`${name} ${text}`, true);
  const input = field(name);
  if (input) {
    input.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

for (const [action, doing] of [["pause", "pausing after this batch..."], ["resume", "resuming..."], ["stop", "stopping and saving the state..."]]) {
  $(action).addEventListener("click", () => act(doing, () => api(`/api/train/${action}`, { method: "POST" })));
}

/// Runs one action with every button disabled until the server answers; its answer (the state
/// reached) sets them again. A refusal is shown beside its field, or as the message.
async function act(doing, request) {
  training.busy = true;
  setButtons("busy");
  message(doing);
  try {
    const answer = await request();
    if (answer.state) applyState(answer);
  } catch (error) {
    if (error.field) { showFieldError(error.field, error.message); message(""); }
    else if (!error.offline) message(error.message, true);
  } finally {
    training.busy = false;
    setButtons(state.offline ? "offline" : training.state);
  }
}

function setButtons(s) {
  const live = s === "running" || s === "paused";
  const busy = s === "busy" || s === "offline" || training.busy;
  $("start").disabled = busy || live;
  $("pause").disabled = busy || s !== "running";
  $("resume").disabled = busy || s !== "paused";
  $("stop").disabled = busy || !live;
}

/// A state from the server (an action's answer, or the stream's `state` event).
function applyState(next) {
  Object.assign(training, { state: next.state, run: next.run, resumeCommand: next.resumeCommand || null });
  setButtons(training.state);
}

let stream = null;
/// Attaches to the server's training events for as long as the page is open.
function attach() {
  if (stream) stream.close();
  stream = new EventSource("/api/train/events");
  stream.addEventListener("open", () => {
    resetRun();
    if (state.offline) {
      setOffline(false);
      loadModels().then((changed) => { if (changed) predict(); }).catch(() => {});
      if (!presets.size) loadPresets();
    }
  });
  stream.addEventListener("state", (event) => applyState(JSON.parse(event.data)));
  stream.onmessage = (event) => handle(JSON.parse(event.data));
  stream.onerror = () => {
    setOffline(true);
    // The browser retries by itself while the stream is connecting; once it gives up, so do we, later.
    if (stream.readyState === EventSource.CLOSED) setTimeout(attach, 2000);
  };
}

function resetRun() {
  Object.assign(run, { batches: 0, epochs: 0, losses: [], accuracy: [], guesses: null, before: null, evaluationSeconds: 0, lossFloor: 0 });
  $("progress-bar").style.width = "0";
  $("progress-text").textContent = "no training yet";
  $("sample").innerHTML = "";
  $("confusion").innerHTML = "";
  message("");
  drawCharts();
}

function seconds(s) {
  return s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`;
}

function handle(event) {
  const d = event.data;
  switch (event.type) {
    case "started":
      resetRun();
      Object.assign(run, {
        batches: d.batchesPerEpoch, epochs: d.configuration.epochs, batchSize: d.configuration.batchSize, classNames: d.classNames,
        lossFloor: d.lossFloor,
      });
      message(`training ${training.run || ""} on ${d.trainingImages.toLocaleString()} images, ${run.epochs} epoch${run.epochs === 1 ? "" : "s"}, batch ${d.configuration.batchSize}`);
      $("progress-text").textContent = "starting...";
      break;
    case "batch": {
      const done = (d.epoch - 1) * d.batches + d.batch;
      const total = run.epochs * d.batches;
      // Time left: the batches to go at this epoch's training speed (pauses are not in it),
      // and each epoch's evaluation as the last one took.
      const imagesLeft = (total - done) * run.batchSize;
      const left = imagesLeft / Math.max(d.imagesPerSecond, 1e-9) + (run.epochs - d.epoch + 1) * run.evaluationSeconds;
      $("progress-bar").style.width = `${(100 * done / total).toFixed(1)}%`;
      const eta = training.state === "running" ? `, about ${seconds(left)} left` : "";
      $("progress-text").textContent = `epoch ${d.epoch}/${run.epochs}, batch ${d.batch}/${d.batches}, loss ${d.runningLoss.toFixed(4)}, ${Math.round(d.imagesPerSecond).toLocaleString()} images/s${eta}`;
      run.losses.push([done / d.batches, d.loss]);
      if (state.tab === "train") drawCharts();
      break;
    }
    case "epoch":
      run.accuracy.push(d);
      run.evaluationSeconds = d.evaluationSeconds;
      run.before = run.guesses;
      showSample(d.testSample);
      showConfusion(d.confusionMatrix, d.epoch);
      $("progress-text").textContent = `epoch ${d.epoch}/${d.epochs}: loss ${d.loss.toFixed(4)}, test ${d.test.accuracy.toFixed(2)}%`;
      if (state.tab === "train") drawCharts();
      break;
    case "paused":
      message(`paused at epoch ${d.epoch}, batch ${d.batch} of ${d.batches}`);
      $("progress-text").textContent = `paused at epoch ${d.epoch}, batch ${d.batch}/${d.batches}`;
      break;
    case "resumed":
      message(`training again from epoch ${d.epoch}, batch ${d.batch}`);
      break;
    case "finished": {
      const t = d.finalTest;
      const accuracy = (100 * t.correct / t.count).toFixed(2);
      $("progress-bar").style.width = "100%";
      message(`finished: final test accuracy ${t.correct.toLocaleString()}/${t.count.toLocaleString()} = ${accuracy}% (best epoch ${d.best.epoch}); it is in the model picker as ${training.run}`);
      $("progress-text").textContent = `done: ${accuracy}% on the test set`;
      // The run's model is new, or newer: whoever picked it gets its answer again.
      loadModels().then((changed) => {
        if (changed || state.model === `runs/${training.run}`) { loadFilters(); loadWeights(); predict(); }
      }).catch(() => {});
      break;
    }
    case "stopped": {
      $("progress-text").textContent = `stopped after batch ${d.position.batch}/${d.position.batches} of epoch ${d.position.epoch}`;
      const m = $("train-message");
      m.className = "message";
      m.textContent = "stopped; its state is saved. To continue it, run this where the server was started: ";
      const code = document.createElement("code");
      code.textContent = training.resumeCommand || `lenet5 train --resume ${d.resumeCheckpoint}`;
      m.appendChild(code);
      break;
    }
    case "failed":
      message(`failed: ${d.message}`, true);
      $("progress-text").textContent = "failed";
      break;
  }
}

/// The grid of test digits with this epoch's guesses; those that changed since the epoch before
/// are marked.
function showSample(predictions) {
  run.guesses = predictions;
  const before = run.before;
  const root = $("sample");
  root.innerHTML = "";
  if (!run.sample || !predictions) return;
  const { side, labels, images, classNames } = run.sample;
  predictions.forEach((p, i) => {
    const cell = document.createElement("div");
    const changed = before && before[i] !== p;
    cell.className = "digit " + (p === labels[i] ? "right" : "wrong") + (changed ? " changed" : "");
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = side;
    paintGray(canvas, images[i], side, side, 0, 255);
    const caption = document.createElement("span");
    const right = p === labels[i];
    caption.textContent = `${right ? "\u2713" : "\u2717"} ${classNames[p]}`;
    cell.title = (right ? `a ${classNames[labels[i]]}, read right` : `a ${classNames[labels[i]]}, read as ${classNames[p]}`)
      + (changed ? `; the epoch before read ${classNames[before[i]]}` : "");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", cell.title);
    cell.append(canvas, caption);
    root.appendChild(cell);
  });
}

/// The test set's confusion matrix after an epoch, and each class's accuracy.
function showConfusion(matrix, epoch) {
  const names = (run.sample && run.sample.classNames) || run.classNames || [..."0123456789"];
  const table = document.createElement("table");
  table.className = "confusion";
  table.createCaption().textContent = `after epoch ${epoch}: rows are the true class, columns the guess`;
  const header = table.insertRow();
  header.insertCell();
  for (const name of names) header.insertCell().textContent = name;
  header.insertCell().textContent = "accuracy";
  matrix.forEach((row, t) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = names[t];
    const total = row.reduce((p, q) => p + q, 0) || 1;
    row.forEach((count, g) => {
      const cell = tr.insertCell();
      cell.textContent = count;
      // Right answers shaded green, mistakes red, by their share of the row (light enough for
      // the count to keep its contrast).
      const share = count / total;
      if (count) cell.style.background = t === g ? `rgba(27, 125, 74, ${0.15 + 0.5 * share})` : `rgba(198, 40, 40, ${Math.min(0.45, 0.12 + 6 * share)})`;
      if (t !== g && count) cell.title = `${count} ${names[t]}s read as ${names[g]}`;
    });
    tr.insertCell().textContent = `${(100 * row[t] / total).toFixed(1)}%`;
  });
  $("confusion").replaceChildren(table);
}

/// A line chart: series of [x, y] points with a colour and a label, on shared axes, and
/// `floor` ({value, label}) dashed across it when given.
function chart(canvas, title, series, yLabel, yRange, floor) {
  const c = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 62, right = 12, top = 28, bottom = 30;
  c.clearRect(0, 0, W, H);
  c.fillStyle = "#fff";
  c.fillRect(0, 0, W, H);
  c.fillStyle = "#1d2330";
  c.font = "bold 14px system-ui, sans-serif";
  c.fillText(title, left, 18);
  const points = series.flatMap((s) => s.points);
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = 0, x1 = Math.max(1, run.epochs || 1, ...xs);
  let [y0, y1] = yRange || [Math.min(0, ...ys), Math.max(1e-3, ...ys)];
  if (points.length && !yRange) y1 = Math.max(...ys) * 1.05;
  const X = (x) => left + (x - x0) / (x1 - x0) * (W - left - right);
  const Y = (y) => H - bottom - (y - y0) / (y1 - y0 || 1) * (H - top - bottom);
  c.strokeStyle = "#c4cad6";
  c.lineWidth = 1;
  c.font = "11px system-ui, sans-serif";
  c.fillStyle = "#56607a";
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    c.beginPath(); c.moveTo(left, Y(y)); c.lineTo(W - right, Y(y)); c.stroke();
    c.fillText(y.toPrecision(3), 22, Y(y) + 4);
  }
  for (let e = 0; e <= x1; e += Math.max(1, Math.ceil(x1 / 10))) c.fillText(String(e), X(e) - 3, H - 12);
  c.fillText("epoch", W - right - 34, H - 2);
  c.save();
  c.translate(12, H / 2 + 30);
  c.rotate(-Math.PI / 2);
  c.fillText(yLabel, 0, 0);
  c.restore();
  if (floor && floor.value > y0 && floor.value < y1) {
    c.save();
    c.setLineDash([4, 4]);
    c.strokeStyle = "#56607a";
    c.beginPath(); c.moveTo(left, Y(floor.value)); c.lineTo(W - right, Y(floor.value)); c.stroke();
    c.restore();
    c.fillStyle = "#56607a";
    c.fillText(floor.label, W - right - 4 - c.measureText(floor.label).width, Y(floor.value) + 14);
  }
  series.forEach((s, n) => {
    c.strokeStyle = s.color;
    c.fillStyle = s.color;
    c.lineWidth = 2;
    c.beginPath();
    s.points.forEach(([x, y], i) => (i ? c.lineTo(X(x), Y(y)) : c.moveTo(X(x), Y(y))));
    c.stroke();
    if (s.markers) for (const [x, y] of s.points) { c.beginPath(); c.arc(X(x), Y(y), 3, 0, 2 * Math.PI); c.fill(); }
    c.fillText(s.label, W - right - 110, top + 14 + 14 * n);
  });
  if (!points.length) { c.fillStyle = "#6b7488"; c.fillText("no data yet", W / 2 - 30, H / 2); }
}

function drawCharts() {
  const floor = run.lossFloor > 0 ? { value: run.lossFloor, label: `least possible with smoothed targets: ${run.lossFloor.toFixed(2)}` } : null;
  chart($("loss-chart"), "Training loss (batches, sampled)", [{ label: "batch loss", color: "#2f7de1", points: run.losses }], "cross-entropy", null, floor);
  const acc = (key) => run.accuracy.filter((e) => e[key]).map((e) => [e.epoch, e[key].accuracy]);
  const all = run.accuracy.flatMap((e) => [e.train, e.validation, e.test].filter(Boolean).map((s) => s.accuracy));
  const low = all.length ? Math.max(0, Math.floor(Math.min(...all) - 1)) : 0;
  chart($("accuracy-chart"), "Accuracy per epoch (%)", [
    { label: "training pass", color: "#2f7de1", points: acc("train"), markers: true },
    { label: "validation", color: "#e08a1e", points: acc("validation"), markers: true },
    { label: "test", color: "#1b9e5a", points: acc("test"), markers: true },
  ], "accuracy %", [low, 100]);
}

// MARK: Start

redraw();
showEmpty();
drawCharts();
loadModels().catch(() => {});
api("/api/test-sample").then((sample) => { run.sample = sample; showSample(run.guesses); }).catch(() => {});
attach();
