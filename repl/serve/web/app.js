// The page of seq2seq-serve: no library, no build step, nothing fetched from anywhere but this server.
"use strict";

const $ = (id) => document.getElementById(id);
const NAMES = { en: "English", zh: "Chinese" };
const other = (code) => (code === "en" ? "zh" : "en");
const state = { settings: null, pairs: new Set(), timer: null, seq: 0, from: null, machine: null };

// ------------------------------------------------------------------------------ talking to the server
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

async function call(path, body) {
  const options = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error(`The server cannot be reached (${err.message}).`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) throw new Error((data && data.error) || `The server answered ${response.status}.`);
  return data;
}

function withKey(fields) {
  const key = $("api-key").value;
  if (key) fields.api_key = key;
  return fields;
}

function element(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

// ------------------------------------------------------------------------------ translating text
function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(translateNow, 350);
}

function majority(codes) {
  const counts = {};
  for (const code of codes) counts[code] = (counts[code] || 0) + 1;
  return Object.keys(counts).sort((a, b) => counts[b] - counts[a])[0] || null;
}

async function translateNow() {
  clearTimeout(state.timer);
  const seq = ++state.seq;
  const text = $("input").value;
  if (!text.trim()) {
    $("output").value = "";
    $("direction").textContent = "";
    state.machine = null;
    $("save").disabled = true;
    $("memory").hidden = $("confidence").hidden = true;
    $("alternatives").hidden = $("attention").hidden = true;
    clearError();
    return;
  }
  const lines = text.split("\n");
  const source = $("source").value;
  let target = $("target").value;
  const wantAlternatives = $("want-alternatives").checked;
  const wantAttention = $("want-attention").checked;
  const ask = (to) => call("/translate", withKey({
    q: lines, source, target: to, alternatives: wantAlternatives ? 3 : 0, scores: wantAlternatives, attention: wantAttention,
    confidence: true,
  }));
  $("status").textContent = "translating…";
  try {
    let answer = await ask(target);
    let from = source;
    if (source === "auto") {
      from = majority(answer.detectedLanguage.filter((d, i) => lines[i].trim() && d.confidence > 0).map((d) => d.language)) || other(target);
      // Text already in the target language came back as it was: translate it the other way.
      if (from === target && !state.pairs.has(`${from}-${target}`) && state.pairs.has(`${from}-${other(target)}`)) {
        target = other(target);
        answer = await ask(target);
      }
    }
    if (seq !== state.seq) return; // a newer request is on its way
    $("target").value = target;
    state.from = from;
    $("output").value = answer.translatedText.join("\n");
    state.machine = { lines, translations: answer.translatedText, from, target };
    $("save").disabled = true;
    showMemory(lines, answer.memory);
    showConfidence(lines, answer.confidence);
    $("direction").textContent = `${from}→${target}`;
    $("direction").title = `${NAMES[from] || from} to ${NAMES[target] || target}`;
    showAlternatives(lines, wantAlternatives ? answer.scores : null);
    showAttention(wantAttention ? answer.attention : null);
    clearError();
    $("status").textContent = "";
    document.body.dataset.translated = text; // (what the page shows is the translation of this)
  } catch (err) {
    if (seq !== state.seq) return;
    showError(err.message);
    $("status").textContent = "";
  }
}

// ------------------------------------------------------------------------------ the translation memory
function showMemory(lines, matches) {
  const list = $("memory");
  list.replaceChildren();
  (matches || []).forEach((match, i) => {
    if (!match) return;
    const text = match.match >= 100
      ? `Line ${i + 1} is from your translation memory (${match.origin}, ${match.time}).`
      : `Line ${i + 1}: similar in memory (${Math.round(match.match)}%): ${match.source} → ${match.translation}`;
    list.append(element("li", text, { class: match.match >= 100 ? "exact" : "fuzzy" }));
  });
  list.hidden = !list.children.length;
}

// How sure the model is of each line (low lines first: those are the ones to check).
function showConfidence(lines, levels) {
  const list = $("confidence");
  list.replaceChildren();
  const judged = (levels || []).map((level, i) => ({ level, i })).filter((x) => x.level && lines[x.i].trim());
  const order = { low: 0, medium: 1, high: 2 };
  judged.sort((a, b) => order[a.level] - order[b.level] || a.i - b.i);
  for (const { level, i } of judged) {
    const where = lines.length > 1 ? `Line ${i + 1}: ` : "";
    const advice = level === "low" ? " (check it)" : "";
    list.append(element("li", `${where}${level} confidence${advice}`, { class: level }));
  }
  list.hidden = !list.children.length;
}

function edited() {
  const machine = state.machine;
  $("save").disabled = !machine || $("output").value === machine.translations.join("\n");
}

async function saveCorrection() {
  const machine = state.machine;
  if (!machine) return;
  const corrected = $("output").value.split("\n");
  if (corrected.length !== machine.lines.length) {
    showError(`Keep one line of translation for each line of text (${machine.lines.length}, not ${corrected.length}).`);
    return;
  }
  try {
    let saved = 0;
    for (let i = 0; i < corrected.length; i++) {
      if (!machine.lines[i].trim() || !corrected[i].trim() || corrected[i] === machine.translations[i]) continue;
      await call("/memory", withKey({ q: machine.lines[i], translation: corrected[i], source: machine.from, target: machine.target }));
      machine.translations[i] = corrected[i];
      saved += 1;
    }
    clearError();
    $("save").disabled = true;
    $("status").textContent = `saved ${saved} correction${saved === 1 ? "" : "s"}: used from now on`;
  } catch (err) {
    showError(err.message);
  }
}

function showAlternatives(lines, scores) {
  const box = $("alternatives");
  box.replaceChildren();
  box.hidden = !scores;
  if (!scores) return;
  box.append(element("h3", "Alternatives (score: log-probability per token, higher is better)"));
  scores.forEach((list, i) => {
    if (!list.length) return;
    if (lines.length > 1) box.append(element("p", lines[i], { class: "hint" }));
    const ol = element("ol");
    for (const { text, score } of list) {
      const li = element("li", text);
      li.append(element("span", score.toFixed(3), { class: "score" }));
      ol.append(li);
    }
    box.append(ol);
  });
}

// ------------------------------------------------------------------------------ attention heatmap
const shown = (token) => token.replace(/^▁/, "") || "␣";

function showAttention(perLine) {
  const box = $("maps");
  box.replaceChildren();
  $("attention").hidden = !perLine;
  if (!perLine) return;
  const maps = perLine.flat();
  if (!maps.length) box.append(element("p", "This model has no attention to show."));
  maps.forEach((map, n) => box.append(heatmap(map, n)));
}

function heatmap(map, n) {
  const wrap = element("div", null, { class: "map" });
  const table = element("table", null, { class: "heatmap" });
  table.append(element("caption", `Sentence ${n + 1}: rows are output tokens, columns the input tokens they look at`, { class: "visually-hidden" }));
  const head = element("tr");
  head.append(element("th", ""));
  for (const token of map.source) head.append(element("th", shown(token), { scope: "col" }));
  const thead = element("thead");
  thead.append(head);
  table.append(thead);
  const body = element("tbody");
  map.weights.forEach((row, r) => {
    const tr = element("tr");
    tr.append(element("th", shown(map.target[r]), { scope: "row" }));
    row.forEach((weight, c) => {
      const label = `${shown(map.target[r])} → ${shown(map.source[c])}: ${weight.toFixed(2)}`;
      const td = element("td", null, { title: label, "aria-label": label, tabindex: r === 0 && c === 0 ? "0" : "-1" });
      td.style.backgroundColor = `hsl(212, 85%, ${Math.round(97 - 62 * weight)}%)`;
      td.dataset.row = r;
      td.dataset.col = c;
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  table.addEventListener("mouseover", readWeight);
  table.addEventListener("focusin", readWeight);
  table.addEventListener("keydown", moveInTable);
  wrap.append(table);
  return wrap;
}

function readWeight(event) {
  if (event.target.tagName === "TD") $("weight").textContent = event.target.title;
}

function moveInTable(event) {
  const cell = event.target;
  const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[event.key];
  if (cell.tagName !== "TD" || !step) return;
  const next = event.currentTarget.querySelector(`td[data-row="${+cell.dataset.row + step[0]}"][data-col="${+cell.dataset.col + step[1]}"]`);
  if (!next) return;
  event.preventDefault();
  cell.tabIndex = -1;
  next.tabIndex = 0;
  next.focus();
}

// ------------------------------------------------------------------------------ files
async function sendFile(file) {
  clearError();
  const progress = $("progress");
  const status = $("file-status");
  const link = $("download");
  link.hidden = true;
  if (state.settings && file.size > state.settings.maxBodyBytes) {
    showError(`${file.name} is too large for this server: at most ${state.settings.maxBodyBytes} bytes.`);
    return;
  }
  const form = new FormData();
  form.append("file", file);
  form.append("source", $("source").value);
  form.append("target", $("source").value === "auto" ? "auto" : $("target").value);
  if ($("api-key").value) form.append("api_key", $("api-key").value);
  progress.hidden = false;
  progress.value = 0;
  status.textContent = `sending ${file.name}…`;
  try {
    const response = await fetch("/file", { method: "POST", body: form });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new Error((data && data.error) || `The server answered ${response.status}.`);
    }
    const result = await readProgress(response, progress, status);
    const url = URL.createObjectURL(new Blob([result.text], { type: "text/plain;charset=utf-8" }));
    link.href = url;
    link.download = result.name;
    link.textContent = `Download ${result.name}`;
    link.hidden = false;
    status.textContent = `${file.name}: translated, ${result.total} piece(s).`;
    link.click();
  } catch (err) {
    status.textContent = "";
    progress.hidden = true;
    // (the server's messages about a file already start with its name)
    showError(err.message.startsWith(`${file.name}:`) ? err.message : `${file.name}: ${err.message}`);
  }
}

async function readProgress(response, progress, status) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (message.error) throw new Error(message.error);
      progress.max = Math.max(message.total, 1);
      progress.value = message.done;
      status.textContent = `translated ${message.done} of ${message.total}`;
      if ("text" in message) return message;
    }
  }
  throw new Error("the answer ended before the file was translated");
}

// ------------------------------------------------------------------------------ start
async function start() {
  try {
    const [settings, languages] = await Promise.all([call("/frontend/settings"), call("/languages")]);
    state.settings = settings;
    $("key-box").hidden = !settings.keyRequired;
    $("save").hidden = !settings.memory;
    for (const language of languages) for (const to of language.targets) state.pairs.add(`${language.code}-${to}`);
    $("target").value = settings.language.target.code;
  } catch (err) {
    showError(err.message);
  }
  try {
    const info = await call("/info");
    const box = element("div", null, { class: "cards" });
    info.models.forEach((model) => box.append(card(model)));
    $("models").replaceChildren(box);
  } catch (err) {
    $("models").replaceChildren(element("p", `The model cards could not be loaded: ${err.message}`));
  }
}

function swap() {
  const to = $("target").value;
  $("target").value = state.from || other(to);
  $("source").value = to;
  $("input").value = $("output").value;
  translateNow();
}

async function copy() {
  try {
    await navigator.clipboard.writeText($("output").value);
  } catch (err) {
    $("output").select();
    document.execCommand("copy");
  }
  $("status").textContent = "copied";
}

document.addEventListener("DOMContentLoaded", () => {
  $("input").addEventListener("input", schedule);
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) translateNow();
  });
  document.addEventListener("keydown", (event) => {
    if (event.altKey && event.key.toLowerCase() === "s") { event.preventDefault(); swap(); }
  });
  for (const id of ["source", "target", "want-alternatives", "want-attention"]) $(id).addEventListener("change", translateNow);
  $("api-key").addEventListener("change", translateNow);
  $("swap").addEventListener("click", swap);
  $("copy").addEventListener("click", copy);
  $("save").addEventListener("click", saveCorrection);
  $("output").addEventListener("input", edited);
  $("file").addEventListener("change", () => $("file").files[0] && sendFile($("file").files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) sendFile(event.dataTransfer.files[0]);
  });
  start();
});
