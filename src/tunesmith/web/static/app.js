// tunesmith's page: generate tunes, and re-render each tune's sheet music as its ABC is edited.
// Plain DOM; every text that came from a tune is set with textContent, never as HTML
// (the SVG comes from the server's engraver, which escapes the tune's text).
"use strict";

// Long enough that typing a note does not start a render per keystroke, short enough to feel live.
const RENDER_DELAY_MS = 300;

// A score is engraved on a page 2100 verovio units wide (render/sheet.py), 2.5 units a CSS pixel at its
// natural size, and drawn as wide as its box. Where the box is narrow (a phone), that shrinks the notes to
// a third; so the score is engraved again on a page as wide as the box at SCORE_SCALE of its natural size
// (fewer bars a line, notes as large as on a laptop: measured in docs/web.md).
const DEFAULT_PAGE_UNITS = 2100, MIN_PAGE_UNITS = 600, UNITS_PER_PX = 2.5, SCORE_SCALE = 0.85;
const NARROW_BELOW_UNITS = 1700;  // a box whose page would be narrower than this gets its own engraving
const PAGE_STEP_UNITS = 50;       // page widths are rounded to it: a small resize does not engrave again

// The page width to engrave a score for its box, or null where the default page reads well.
function pageUnitsFor(sheet) {
  const px = sheet.clientWidth;
  if (!px) return null;
  const units = Math.round(px * UNITS_PER_PX / SCORE_SCALE / PAGE_STEP_UNITS) * PAGE_STEP_UNITS;
  if (units >= NARROW_BELOW_UNITS) return null;
  return Math.max(MIN_PAGE_UNITS, units);
}

// The ABC behind a score: the card's editor, or the text the server put on the sheet (the front page's tune).
function sheetAbc(sheet) {
  if (sheet.dataset.abc) return sheet.dataset.abc;
  const card = sheet.closest("article");
  const text = card && card.querySelector("textarea.abc");
  return text ? text.value : null;
}

// Engrave a score again for a narrow box (a phone's screen); nothing to do on a wide one.
async function fitScore(sheet) {
  const units = pageUnitsFor(sheet);
  const abc = sheetAbc(sheet);
  const drawn = Number(sheet.dataset.pageUnits || DEFAULT_PAGE_UNITS);
  if (!abc || !sheet.querySelector("svg") || (units || DEFAULT_PAGE_UNITS) === drawn) return;
  try {
    const r = await postJson("/api/render", {abc, width: units || DEFAULT_PAGE_UNITS});
    if (sheetAbc(sheet) !== abc) return;  // edited meanwhile: the editor's own render is on its way
    sheet.innerHTML = r.svg;
    sheet.dataset.pageUnits = units || DEFAULT_PAGE_UNITS;
    const card = sheet.closest("article.tune");
    if (card) document.dispatchEvent(new CustomEvent("card-rendered", {detail: card}));
  } catch (_) { /* the score as it was still shows the music, only smaller */ }
}

function fitScores() {
  document.querySelectorAll(".sheet").forEach(fitScore);
}

// The front page's score when the server had none engraved yet: fetched (the server's engraving, checked there
// to hold no script), then fitted to its box.
async function loadScore(sheet) {
  try {
    const res = await fetch(sheet.dataset.svgSrc);
    if (!res.ok) await answerJson(res);  // throws the server's message
    sheet.innerHTML = await res.text();
    delete sheet.dataset.svgSrc;
    await fitScore(sheet);
  } catch (e) {
    const status = sheet.parentElement.querySelector(".status");
    if (status) status.textContent = e.message;
  }
}

// The front page while the app writes its first tune: look again in a moment, unless the visitor has begun
// to use the page (a reload would throw away what they typed or generated).
function reloadWhenAsked() {
  const waiting = document.querySelector("[data-reload-after]");
  if (!waiting) return;
  const timer = setTimeout(() => window.location.reload(), Number(waiting.dataset.reloadAfter));
  for (const kind of ["pointerdown", "keydown", "focusin", "input"]) {
    document.addEventListener(kind, () => clearTimeout(timer), {capture: true, once: true});
  }
}

// The JSON of an API answer; an error answer throws the server's message ({"detail": ...}).
async function answerJson(res) {
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) throw new Error((data && data.detail) || `${res.status} ${res.statusText}`);
  return data;
}

async function postJson(path, body) {
  return answerJson(await fetch(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  }));
}

async function getJson(path) {
  return answerJson(await fetch(path));
}

function showProblems(card, problems) {
  const items = problems.map((p) => {
    const li = document.createElement("li");
    li.textContent = `line ${p.line}:${p.col}: ${p.message}`;
    return li;
  });
  card.querySelector(".problems").replaceChildren(...items);
}

// Point the card's address, player and downloads at a stored tune.
function pointTo(card, tune) {
  card.dataset.id = tune.id;
  card.dataset.model = tune.model || "";
  const link = card.querySelector(".permalink");
  link.href = tune.url;
  link.textContent = `#${tune.id}`;
  card.querySelector(".title").textContent = tune.title;
  card.querySelector(".meta").textContent = describe(tune);
  const originality = card.querySelector(".originality");  // a generated tune's nearest training tune
  originality.textContent = tune.originality_note || "";
  originality.hidden = !tune.originality_note;
  card.querySelector("audio").src = tune.files.wav;
  for (const kind of DOWNLOADS) {
    const link = card.querySelector(`.dl-${kind}`);
    link.href = tune.files[kind];
    link.dataset.base = tune.files[kind];
  }
  moveDownloads(card);
  card.querySelector("a.inside").href = `${tune.url}/inside`;
}

const DOWNLOADS = ["abc", "mid", "wav", "svg", "musicxml", "pdf"];

// Every download of the card in the key its transpose menu names (the server moves the tune: ?transpose=N).
function moveDownloads(card) {
  const semitones = Number(card.querySelector("select.transpose").value);
  for (const kind of DOWNLOADS) {
    const link = card.querySelector(`.dl-${kind}`);
    const base = link.dataset.base || link.getAttribute("href");
    if (!base) continue;
    link.dataset.base = base;
    link.href = semitones ? `${base}?transpose=${semitones}` : base;
  }
}

// "generated by default, seed 7" or "edited from #3", as the tune page says it.
function describe(tune) {
  if (tune.parent) return `edited from #${tune.parent}`;
  const p = tune.params || {};
  let text = tune.origin + (tune.model ? ` by ${tune.model}` : "");
  if (p.seed !== undefined) text += `, seed ${p.seed}`;
  return text;
}

function newCard(tune) {
  const card = document.getElementById("tune-card").content.firstElementChild.cloneNode(true);
  pointTo(card, tune);
  card.querySelector("textarea.abc").value = tune.abc;
  if (tune.svg) card.querySelector(".sheet").innerHTML = tune.svg;
  card.querySelector(".status").textContent = tune.svg_error || "";
  showProblems(card, tune.problems || []);
  wire(card);
  return card;
}

// The editor: re-render after a pause in typing; only the latest render is shown.
function wire(card) {
  const text = card.querySelector("textarea.abc");
  const sheet = card.querySelector(".sheet");
  const status = card.querySelector(".status");
  const save = card.querySelector(".save");
  card.querySelector("select.transpose").addEventListener("change", () => moveDownloads(card));
  moveDownloads(card);  // a menu the browser restored (back, reload) moves the links at once
  let savedText = text.value;
  let timer = null;
  let latest = 0;

  async function rerender() {
    const mine = ++latest;
    status.textContent = "rendering…";
    try {
      const units = pageUnitsFor(sheet) || DEFAULT_PAGE_UNITS;
      const r = await postJson("/api/render", {abc: text.value, width: units});
      if (mine !== latest) return;
      sheet.innerHTML = r.svg;
      sheet.dataset.pageUnits = units;
      showProblems(card, r.problems);
      status.textContent = "";
      card.classList.remove("stale");
      document.dispatchEvent(new CustomEvent("card-rendered", {detail: card}));  // surprise.js reads it again
    } catch (e) {
      if (mine !== latest) return;
      status.textContent = e.message;
      card.classList.add("stale");
    }
  }

  text.addEventListener("input", () => {
    save.disabled = text.value === savedText;
    card.classList.toggle("edited", text.value !== savedText);
    clearTimeout(timer);
    timer = setTimeout(rerender, RENDER_DELAY_MS);
  });

  save.addEventListener("click", async () => {
    try {
      const parent = card.dataset.id ? Number(card.dataset.id) : null;
      const tune = await postJson("/api/tunes", {abc: text.value, parent});
      savedText = text.value;
      pointTo(card, tune);
      save.disabled = true;
      card.classList.remove("edited");
      const done = card.querySelector(".saved");
      done.textContent = "Saved as ";
      const a = document.createElement("a");
      a.href = tune.url;
      a.textContent = `#${tune.id}`;
      done.append(a);
    } catch (e) {
      status.textContent = e.message;
    }
  });
  // Other controls of the card (surprise.js: continue, the surprise map) wire themselves on this.
  document.dispatchEvent(new CustomEvent("card-wired", {detail: card}));
}

// A compose form's request, whatever fields the page's mode declares: check boxes
// as true/false, numbers when given, text trimmed (empty: left to the model); the
// primer keeps its leading spaces and lines.
function formRequest(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    const value = field.value || "";
    if (field.type === "checkbox") body[field.name] = field.checked;
    else if (field.name === "primer") body.primer = value.replace(/\s+$/, "") || null;
    else if (field.type === "number") { if (value.trim() !== "") body[field.name] = Number(value); }
    else body[field.name] = value.trim() || null;
  }
  return body;
}

// A compose form (tunes here, tabla compositions in tabla.js): post what it
// says, count the seconds while the server writes, put the results first.
function setUpCompose({formId, url, pieces, card, noun}) {
  const form = document.getElementById(formId);
  if (!form) return;
  const go = document.getElementById("go");
  const progress = document.getElementById("progress");
  const error = document.getElementById("error");
  const results = document.getElementById("results");
  const count = (k) => `${k} ${noun}${k > 1 ? "s" : ""}`;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = formRequest(form);
    const what = count(body.n || 1);
    const started = performance.now();
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
    go.disabled = true;
    error.hidden = true;
    progress.classList.add("busy");
    progress.textContent = `Writing ${what}…`;
    const tick = setInterval(() => { progress.textContent = `Writing ${what}… ${seconds()} s`; }, 100);
    try {
      const r = await postJson(url, body);
      const done = pieces(r);
      results.prepend(...done.map(card));
      done.length && fitScores();
      progress.textContent = `${count(done.length)} in ${seconds()} s (seed ${r.seed})`;
    } catch (e) {
      progress.textContent = "";
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      clearInterval(tick);
      progress.classList.remove("busy");
      go.disabled = false;
    }
  });
}

function setUpGenerate() {
  setUpCompose({formId: "generate", url: "/api/generate",
                pieces: (r) => r.tunes, card: newCard, noun: "tune"});
}

// "Surprise me": a seed drawn here, the style the seed names (web/front.py surprise_style), the tune opened.
function setUpSurprise() {
  const button = document.getElementById("surprise-me");
  if (!button) return;
  const styles = JSON.parse(button.dataset.styles);
  const status = document.getElementById("surprise-status");
  button.addEventListener("click", async () => {
    const seed = crypto.getRandomValues(new Uint32Array(1))[0] % 2 ** 31;
    const style = styles[seed % styles.length];
    const what = `${style.rhythm || `a tune in ${style.meter}`} in ${style.key}`;
    button.disabled = true;
    status.classList.remove("error");
    status.textContent = `Writing ${what} (seed ${seed})…`;
    try {
      const r = await postJson("/api/generate", {n: 1, seed, ...style});
      window.location.assign(r.tunes[0].url);
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
      button.disabled = false;
    }
  });
}

// "Look inside", compact view (web/inside.py): the hovered or tapped character's figures and the model's five
// guesses after it, each shaded by its probability like the legend's bar.
function setUpInside() {
  const view = document.querySelector(".inside-compact");
  if (!view) return;
  const info = view.querySelector(".inside-info");
  const unit = view.dataset.unit;
  const visible = {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5"};
  const shownText = (s) => [...s].map((ch) => visible[ch] || ch).join("");
  let picked = null;
  function show(cell) {
    if (picked) picked.classList.remove("picked");
    picked = cell;
    cell.classList.add("picked");
    const head = document.createElement("div");
    head.textContent = `${shownText(cell.textContent)} (${unit} ${Number(cell.dataset.t) + 1}): ` +
      `${view.dataset.label} = ${cell.dataset.a}. The model's likeliest next ${unit}s:`;
    const guesses = JSON.parse(cell.dataset.g).map(([symbol, p, colour]) => {
      const span = document.createElement("span");
      span.className = "guess";
      span.style.background = colour;  // the server's probability colour (insight/visualize.py)
      span.style.color = p > 0.5 ? "#fff" : "#000";
      span.textContent = `${shownText(symbol)} ${(100 * p).toFixed(1)} %`;
      return span;
    });
    const list = document.createElement("div");
    list.append(...guesses);
    info.replaceChildren(head, list);
  }
  const cellOf = (ev) => ev.target.closest && ev.target.closest(".ch");
  view.addEventListener("mouseover", (ev) => { const c = cellOf(ev); if (c) show(c); });
  view.addEventListener("click", (ev) => { const c = cellOf(ev); if (c) show(c); });  // a tap, on a phone
}

document.addEventListener("DOMContentLoaded", () => {
  setUpInside();
  document.querySelectorAll("main > article.tune").forEach(wire);
  setUpGenerate();
  setUpSurprise();
  reloadWhenAsked();
  fitScores();
  document.querySelectorAll(".sheet[data-svg-src]").forEach(loadScore);
  let resized = null;
  window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(fitScores, RENDER_DELAY_MS); });
});
