// Writing on from a tune, and the surprise map on its score: the controls under each tune card's editor.
//
// - "Continue from cursor": the text before the cursor is the primer of /api/generate (as --primer is on
//   the command line); the model writes on from it, well-formed, and the new tune is a new card above.
// - "Continue from selection": the tune's header (to its K: line) and the selected phrase are the primer.
// - "Surprise map": /api/surprise colours each note of the score by the model's surprise (engraved for the
//   score's box, as app.js engraves the plain score: a phone gets a narrower page); a click on a
//   note shows the model's likeliest alternatives there, and picking one writes again the rest of the
//   bar or of the tune from it (/api/surprise/regenerate).
// Uses postJson, newCard, pageUnitsFor and DEFAULT_PAGE_UNITS from app.js; app.js tells this file about
// cards through the "card-wired" and "card-rendered" events. Text from tunes is set with textContent, never
// as HTML.
"use strict";

const SHOWN = {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5"};

// A symbol as shown on a button: newline, space and tab made visible.
function shownSymbol(symbol) {
  return Array.from(symbol).map((ch) => SHOWN[ch] || ch).join("");
}

// The server counts offsets in characters (code points); a textarea counts UTF-16 units.
function utf16Offset(text, codePoints) {
  let i = 0;
  for (let n = 0; n < codePoints && i < text.length; n++) i += text.codePointAt(i) > 0xffff ? 2 : 1;
  return i;
}

// "line 7, column 3" of a code-point offset.
function whereIs(text, codePoints) {
  const before = text.slice(0, utf16Offset(text, codePoints)).split("\n");
  return `line ${before.length}, column ${Array.from(before[before.length - 1]).length + 1}`;
}

function percent(p) {
  return p >= 0.1 ? `${Math.round(p * 100)} %` : `${(p * 100).toFixed(1)} %`;
}

// The model, sampling and seed a card's writing uses: the card's own model (the one that wrote the
// tune), else the compose form's; the form's temperature when the page has one; the card's seed field.
function writeSettings(card) {
  const form = document.getElementById("generate");
  const settings = {model: card.dataset.model || (form && form.elements.model ? form.elements.model.value : "") || null};
  const temperature = form && form.elements.temperature ? form.elements.temperature.value.trim() : "";
  if (temperature !== "") settings.temperature = Number(temperature);
  const seed = card.querySelector(".reprime-seed").value.trim();
  if (seed !== "") settings.seed = Number(seed);
  return settings;
}

// The tune's header: its text up to the end of its K: line (null when it has none).
function headerOf(text) {
  const match = /^K:.*(\n|$)/m.exec(text);
  return match ? text.slice(0, match.index + match[0].length) : null;
}

// Run one piece of writing for a card: its buttons wait, its status counts the seconds;
// the tune written becomes a new card just above this one.
async function writeFrom(card, busyText, request, describeDone) {
  const status = card.querySelector(".reprime-status");
  const buttons = card.querySelectorAll(".reprime button, .alternatives button");
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  buttons.forEach((b) => { b.disabled = true; });
  status.classList.add("busy");
  status.textContent = `${busyText}…`;
  const tick = setInterval(() => { status.textContent = `${busyText}… ${seconds()} s`; }, 100);
  try {
    const r = await request();
    const fresh = newCard(r.tunes[0]);
    fresh.querySelector(".reprime-status").textContent = describeDone(r);
    card.before(fresh);
    fresh.scrollIntoView({block: "nearest"});
    status.textContent = `Written in ${seconds()} s: the new tune is above (seed ${r.seed})`;
  } catch (e) {
    status.textContent = e.message;
  } finally {
    clearInterval(tick);
    status.classList.remove("busy");
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function continueFromCursor(card) {
  const text = card.querySelector("textarea.abc");
  const at = text.selectionEnd;
  const primer = text.value.slice(0, at);
  if (!primer.trim()) {
    card.querySelector(".reprime-status").textContent = "Put the cursor where the model should write on.";
    return;
  }
  const where = whereIs(text.value, Array.from(primer).length);
  writeFrom(card, "Writing on from the cursor",
            () => postJson("/api/generate", {...writeSettings(card), n: 1, primer}),
            (r) => `Continued from ${card.dataset.id ? "#" + card.dataset.id : "the editor"} at ${where} (seed ${r.seed}).`);
}

function continueFromSelection(card) {
  const text = card.querySelector("textarea.abc");
  const status = card.querySelector(".reprime-status");
  const [start, end] = [text.selectionStart, text.selectionEnd];
  if (start === end) {
    status.textContent = "Select a phrase of the tune first (a few bars of its music).";
    return;
  }
  const header = headerOf(text.value);
  if (header === null) {
    status.textContent = "The tune has no K: line: the phrase needs its key and meter.";
    return;
  }
  // A selection that reaches into the header is continued from its end, header and all.
  const primer = start < header.length ? text.value.slice(0, end) : header + text.value.slice(start, end);
  writeFrom(card, "Writing on from the phrase",
            () => postJson("/api/generate", {...writeSettings(card), n: 1, primer}),
            (r) => `Continued from a phrase of ${card.dataset.id ? "#" + card.dataset.id : "the editor"} (seed ${r.seed}).`);
}

// -- the surprise map --------------------------------------------------------------------------------

const maps = new WeakMap();  // card -> {model, notes by SVG id, the text it was read from}

function surpriseOn(card) {
  return card.querySelector(".surprise-toggle").getAttribute("aria-pressed") === "true";
}

async function showSurprise(card) {
  const text = card.querySelector("textarea.abc");
  const status = card.querySelector(".reprime-status");
  const abc = text.value;
  const mine = (card.surpriseRequests = (card.surpriseRequests || 0) + 1);
  const sheet = card.querySelector(".sheet");
  const units = pageUnitsFor(sheet) || DEFAULT_PAGE_UNITS;  // a phone's page, as app.js engraves the score
  status.textContent = "Reading the tune with the model…";
  try {
    const r = await postJson("/api/surprise", {abc, model: writeSettings(card).model, width: units});
    if (mine !== card.surpriseRequests || !surpriseOn(card)) return;  // a newer request, or switched off
    sheet.innerHTML = r.svg;
    sheet.dataset.pageUnits = units;
    maps.set(card, {model: r.model, abc, notes: new Map(r.notes.map((n) => [n.id, n]))});
    const unmapped = r.unmapped ? `; ${r.unmapped} notes not matched on the score` : "";
    status.textContent = `Surprise by ${r.model}: ${r.notes.length} notes, ${r.mean_bits.toFixed(2)} bits per note ` +
                         `on average${unmapped}. Click a note for the model's alternatives.`;
  } catch (e) {
    if (mine === card.surpriseRequests) status.textContent = e.message;
  }
}

async function hideSurprise(card) {
  card.surpriseRequests = (card.surpriseRequests || 0) + 1;
  maps.delete(card);
  card.querySelector(".alternatives").hidden = true;
  card.querySelector(".reprime-status").textContent = "";
  const sheet = card.querySelector(".sheet");
  const units = pageUnitsFor(sheet) || DEFAULT_PAGE_UNITS;
  try {
    const r = await postJson("/api/render", {abc: card.querySelector("textarea.abc").value, width: units});
    if (surpriseOn(card)) return;
    sheet.innerHTML = r.svg;
    sheet.dataset.pageUnits = units;
  } catch (e) {
    card.querySelector(".reprime-status").textContent = e.message;
  }
}

// The panel for one clicked note: what it is, its bits, and a button per alternative.
function showAlternatives(card, note) {
  const map = maps.get(card);
  const panel = card.querySelector(".alternatives");
  card.querySelectorAll(".sheet g.picked").forEach((g) => g.classList.remove("picked"));
  const drawn = card.querySelector(`.sheet [id="${CSS.escape(note.id)}"]`);
  if (drawn) drawn.classList.add("picked");
  const text = card.querySelector("textarea.abc");
  if (text.value === map.abc) {  // show its characters in the editor
    text.focus({preventScroll: true});
    text.setSelectionRange(utf16Offset(text.value, note.start), utf16Offset(text.value, note.end));
  }
  const head = document.createElement("p");
  head.className = "picked-note";
  head.textContent = `${note.text} (${whereIs(map.abc, note.start)}): ${note.bits.toFixed(1)} bits; ` +
                     `the model gave ‘${shownSymbol(note.written)}’ ${percent(note.p)} here.`;
  const choices = document.createElement("p");
  choices.className = "choices";
  choices.append("Write instead: ");
  for (const alt of note.alternatives) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "alternative";
    b.dataset.symbol = alt.symbol;
    b.textContent = `${shownSymbol(alt.symbol)} ${percent(alt.p)}`;
    b.addEventListener("click", () => regenerate(card, note, alt.symbol));
    choices.append(b);
  }
  if (!note.alternatives.length) choices.append("nothing else fits here.");
  const scope = document.createElement("p");
  scope.className = "scope";
  scope.append("and write again ");
  for (const [value, label] of [["bar", "the rest of the bar"], ["tune", "the rest of the tune"]]) {
    const l = document.createElement("label");
    const r = document.createElement("input");
    Object.assign(r, {type: "radio", name: `scope-${note.id}`, value, checked: value === "bar"});
    l.append(r, ` ${label} `);
    scope.append(l);
  }
  const parts = [head, choices, scope];
  if (!note.checked) {
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "The text before this note is not a well-formed tune: these are the model's guesses " +
                       "unchecked, and writing on from one will be refused.";
    parts.push(hint);
  }
  panel.replaceChildren(...parts);
  panel.hidden = false;
}

function regenerate(card, note, symbol) {
  const map = maps.get(card);
  const scope = card.querySelector(`.alternatives input[name="scope-${CSS.escape(note.id)}"]:checked`).value;
  const what = scope === "bar" ? "the rest of the bar" : "the rest of the tune";
  const where = whereIs(map.abc, note.start);
  writeFrom(card, `Writing ${what} from ${shownSymbol(symbol)}`,
            () => postJson("/api/surprise/regenerate",
                           {...writeSettings(card), model: map.model, abc: map.abc, at: note.start, symbol, scope}),
            (r) => `Written again from ${note.text} at ${where} of ${card.dataset.id ? "#" + card.dataset.id : "the editor"}` +
                   ` with ${shownSymbol(symbol)}: ${what} (seed ${r.seed}).`);
}

// -- wiring ------------------------------------------------------------------------------------------

function wireReprime(card) {
  const controls = card.querySelector(".reprime");
  if (!controls || controls.dataset.wired) return;
  controls.dataset.wired = "1";
  card.querySelector("button.continue").addEventListener("click", () => continueFromCursor(card));
  card.querySelector("button.continue-phrase").addEventListener("click", () => continueFromSelection(card));
  const toggle = card.querySelector("button.surprise-toggle");
  toggle.addEventListener("click", () => {
    const on = !surpriseOn(card);
    toggle.setAttribute("aria-pressed", String(on));
    if (on) showSurprise(card); else hideSurprise(card);
  });
  card.querySelector(".sheet").addEventListener("click", (ev) => {
    const g = ev.target.closest && ev.target.closest("g.surprise");
    const map = maps.get(card);
    if (g && map && map.notes.has(g.id)) showAlternatives(card, map.notes.get(g.id));
  });
}

document.addEventListener("card-wired", (ev) => wireReprime(ev.detail));
// The editor re-rendered the score from new text: the old map's notes are gone; read it again while it is on.
document.addEventListener("card-rendered", (ev) => {
  const card = ev.detail;
  maps.delete(card);
  card.querySelector(".alternatives").hidden = true;
  if (surpriseOn(card)) showSurprise(card);
});
