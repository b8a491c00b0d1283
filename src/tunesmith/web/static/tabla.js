// The Tabla tab: generate compositions and show each as a grid of cycles, with its player and downloads.
// Uses postJson from app.js (loaded first). Every bol and title is set with textContent, never as HTML.
// The grid is built as the server's tabla_card.html builds it, so a new card and /tabla/<id> look alike.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The colour band of a part of the form (as tabla_card.html's band()): tihai phrases and lead, theme, gap ...
function band(part) {
  return part.startsWith("tihai") || part.startsWith("phrase") ? "tihai" : part.split(" ")[0];
}

// One matra: its bols side by side (several share the cell), "-" a silent matra; banded by its part of the form.
function matraCell(matra, first, mark, part) {
  const td = el("td", "matra");
  td.classList.toggle("vibhag-start", first);
  td.classList.toggle("shared", matra.length > 1);
  td.classList.toggle("rest", matra.length === 1 && matra[0] === "-");
  if (mark) td.dataset.mark = mark;
  if (part) {
    td.classList.add(`band-${band(part)}`);
    td.dataset.part = part;
    td.title = part;
  }
  for (const bol of matra) td.append(el("span", "bol", bol));
  return td;
}

// The matras of the tala, 1 to n, over the grid: the one being played is lit while the practice player plays.
function counterRow(matras) {
  const row = el("tr", "counter");
  const corner = el("th", "cycle-no");
  corner.append(el("span", "sr", "matra"));
  row.append(corner);
  for (let i = 1; i <= matras; i++) row.append(el("th", "count", String(i)));
  return row;
}

// A row per cycle under the vibhag marks (X sam, 0 khali, tali numbers), then the landing sam.
function buildGrid(g) {
  const table = el("table", "tala-grid");
  table.setAttribute("aria-label", `cycles of ${g.tala}`);
  table.append(el("col", "cycle-no"));
  for (const length of g.vibhags) {
    const group = el("colgroup", "vibhag");
    group.span = length;
    table.append(group);
  }
  const head = el("tr");
  const corner = el("th", "cycle-no");
  corner.scope = "col";
  corner.append(el("span", "sr", "cycle"));
  head.append(corner);
  g.marks.forEach((mark, i) => {
    const th = el("th", "mark", mark);
    th.colSpan = g.vibhags[i];
    th.scope = "colgroup";
    head.append(th);
  });
  const thead = el("thead");
  thead.append(head, counterRow(g.matras));
  table.append(thead);
  const body = el("tbody");
  g.cycles.forEach((cycle, i) => {
    const row = el("tr", "cycle");
    const number = el("th", "cycle-no", String(i + 1));
    number.scope = "row";
    row.append(number);
    for (const vibhag of cycle) {
      vibhag.matras.forEach((matra, j) => row.append(matraCell(matra, j === 0, j === 0 ? vibhag.mark : "",
                                                               vibhag.parts ? vibhag.parts[j] : "")));
    }
    body.append(row);
  });
  if (g.landing) {
    const row = el("tr", "landing");
    const label = el("th", "cycle-no", "sam");
    label.scope = "row";
    row.append(label, matraCell(g.landing, true, g.marks[0], g.landing_part || ""));
    body.append(row);
  }
  table.append(body);
  return table;
}

// "kaida: theme 1–16, variation 1 17–32, tihai phrase 1 33–37 ...": the form's parts by matra number.
function buildLegend(g) {
  const p = el("p", "form-parts");
  if (g.form) p.append(`${g.form}${g.in_form === false ? " (not in its form)" : ""}${g.sections.length ? ":" : ""}`);
  for (const s of g.sections || []) p.append(" ", el("span", `part band-${s.band}`, `${s.name} ${s.from}–${s.to}`));
  return p;
}

// "teentaal, 4 cycles at 90 matras a minute, kaida, by tabla, seed 7", as the composition's page says it.
function describeComposition(c) {
  let text = `${c.tala}, ${c.cycles} cycles at ${c.tempo} matras a minute`;
  if (c.form) text += `, ${c.form}`;
  if (c.model) text += `, by ${c.model}`;
  if (c.params && c.params.seed !== undefined) text += `, seed ${c.params.seed}`;
  return text;
}

function compositionCard(c) {
  const card = document.getElementById("composition-card").content.firstElementChild.cloneNode(true);
  card.dataset.id = c.id;
  card.dataset.model = c.model || "";
  card.querySelector(".title").textContent = c.title;
  const link = card.querySelector(".permalink");
  link.href = c.url;
  link.textContent = `#${c.id}`;
  card.querySelector(".meta").textContent = describeComposition(c);
  card.querySelector(".grid-wrap").replaceChildren(buildGrid(c.grid), buildLegend(c.grid));
  card.querySelector("audio").src = c.files.wav;
  for (const kind of ["txt", "wav", "mid"]) card.querySelector(`.dl-${kind}`).href = c.files[kind];
  card.querySelector("pre.text").textContent = c.text;
  setUpPractice(card, `/api/tabla/${c.id}/practice`);
  return card;
}

// -- practice: a lehra, a tempo ramp, layakari, and the matra count following the audio -----------------

// The practice form's options as a query string: check boxes 1/0, other fields when given.
function practiceQuery(form) {
  const query = new URLSearchParams();
  for (const field of form.elements) {
    if (!field.name) continue;
    if (field.type === "checkbox") query.set(field.name, field.checked ? "1" : "0");
    else if (field.value.trim() !== "") query.set(field.name, field.value.trim());
  }
  return query.toString();
}

// Where the playback is at `seconds`: the cycle (from 0), the tala's matra in it (from 0), and the matra as a
// fraction, from the cycles' start times and tempos the server gave (the last cycle is the landing sam).
function positionAt(plan, seconds) {
  let cycle = 0;
  while (cycle + 1 < plan.cycle_starts.length && plan.cycle_starts[cycle + 1] <= seconds) cycle++;
  const landing = cycle === plan.cycle_starts.length - 1;
  const beats = Math.max(0, (seconds - plan.cycle_starts[cycle]) * plan.tempos[cycle] / 60);
  const matra = landing ? 0 : Math.min(Math.floor(beats), plan.matras - 1);
  return {cycle, matra, beats: landing ? 0 : beats, landing};
}

// Light the tala's matra over the grid and the composition's bol now sounding (at layakari k the composition
// runs k matras to the tala's one), and say it in words: "cycle 2 · matra 5 of 14 (0)".
function showPosition(card, plan, at) {
  const output = card.querySelector("output.matra-count");
  const mark = plan.vibhag_starts.includes(at.matra) ? ` (${plan.marks[plan.vibhag_starts.indexOf(at.matra)]})` : "";
  output.textContent = at.landing ? `sam: the landing, matra 1 of ${plan.matras}`
    : `cycle ${at.cycle + 1} · matra ${at.matra + 1} of ${plan.matras}${mark}`;
  output.dataset.cycle = String(at.cycle + 1);
  output.dataset.matra = String(at.matra + 1);
  card.querySelectorAll("tr.counter th.count").forEach((th, i) => th.classList.toggle("now", i === at.matra));
  const cells = [...card.querySelectorAll("table.tala-grid tr.cycle td.matra")];
  const landingCell = card.querySelector("table.tala-grid tr.landing td.matra");
  const played = Math.floor((at.cycle * plan.matras + at.beats) * plan.laya);
  const lit = at.landing ? landingCell : cells[played % plan.composition_matras];
  card.querySelectorAll("table.tala-grid td.matra.now").forEach((td) => { if (td !== lit) td.classList.remove("now"); });
  if (lit) lit.classList.add("now");
}

// The panel under a composition (or a theka): ask the server for the playback's timing, play its WAV in the
// card's player, and move the count with the audio for as long as it plays.
function setUpPractice(card, url) {
  const form = card.querySelector("form.practice");
  if (!form) return;
  const audio = card.querySelector("audio");
  const error = form.querySelector(".practice-error");
  let plan = null;
  const follow = () => {
    if (!plan) return;
    showPosition(card, plan, positionAt(plan, audio.currentTime));
    if (!audio.paused && !audio.ended) requestAnimationFrame(follow);
  };
  audio.addEventListener("play", follow);
  audio.addEventListener("seeked", follow);
  audio.addEventListener("ended", follow);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const button = form.querySelector("button.practise");
    button.disabled = true;
    try {
      plan = await getJson(`${url}?${practiceQuery(form)}`);
      audio.src = plan.wav;
      await audio.play();
    } catch (e) {
      plan = null;
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

// A card for the theka menu's tala (one cycle landing on sam), to practise with; it is not stored. The menu
// has every tala: a theka needs no model.
async function practiseTheka() {
  const tala = document.getElementById("theka-tala").value;
  const error = document.getElementById("error");
  error.hidden = true;
  try {
    const t = await getJson(`/api/tabla/theka/${encodeURIComponent(tala)}`);
    const card = document.getElementById("composition-card").content.firstElementChild.cloneNode(true);
    card.classList.add("theka");
    card.dataset.tala = t.tala;
    card.querySelector(".title").textContent = t.title;
    card.querySelector(".permalink").remove();
    card.querySelector(".downloads").remove();
    card.querySelector("form.rewrite").remove();
    card.querySelector(".meta").textContent = `${t.tala}: one cycle of its theka, landing on sam`;
    card.querySelector(".grid-wrap").replaceChildren(buildGrid(t.grid));
    card.querySelector("audio").removeAttribute("src");
    card.querySelector("pre.text").textContent = t.text;
    setUpPractice(card, t.practice);
    document.getElementById("results").prepend(card);
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  }
}

// The form's Tala menu offers only the talas the chosen model knows (the server refuses the others): the
// model menu's options carry them (data-talas); the theka menu has every tala's name as the page shows it.
function offerModelTalas() {
  const form = document.getElementById("tabla");
  const model = form && form.querySelector("select[name=model]");
  if (!model) return;  // one model: the server drew its talas
  const menu = form.querySelector("select[name=tala]");
  const every = [...document.getElementById("theka-tala").options];
  const offer = () => {
    const known = new Set(model.selectedOptions[0].dataset.talas.split(" "));
    const chosen = menu.value;
    menu.replaceChildren(...every.filter((o) => known.has(o.value)).map((o) => new Option(o.text, o.value)));
    if (known.has(chosen)) menu.value = chosen;
  };
  model.addEventListener("change", offer);
  offer();  // a model the browser restored (back, reload)
}

// -- rewrite cycles: the card's composition with some cycles written anew (POST /api/infill), rest unchanged ---

// A card for one version (not stored: no address, audio or downloads); the rewritten cycles' numbers are lit,
// and it can be rewritten again.
function rewrittenCard(source, r, piece, index) {
  const card = document.getElementById("composition-card").content.firstElementChild.cloneNode(true);
  card.classList.add("rewritten");
  card.dataset.model = r.model;
  card.querySelector(".title").textContent = source.querySelector(".title").textContent;
  card.querySelector(".permalink").remove();
  card.querySelector("footer").remove();
  const practice = card.querySelector("form.practice");
  if (practice) practice.remove();
  const [first, last] = r.cycles;
  const which = first === last ? `cycle ${first}` : `cycles ${first}-${last}`;
  const from = source.dataset.id ? ` of #${source.dataset.id}` : "";
  card.querySelector(".meta").textContent = `${which}${from} rewritten, version ${index + 1} of ${r.pieces.length}: ` +
    `the rest costs the model ${piece.bits.toFixed(1)} bits after it (${r.original_bits.toFixed(1)} after the ` +
    `cycles it had), by ${r.model}, seed ${r.seed}`;
  const grid = buildGrid(piece.grid);
  grid.querySelectorAll("tr.cycle").forEach((row, i) => row.classList.toggle("rewritten", i + 1 >= first && i + 1 <= last));
  card.querySelector(".grid-wrap").replaceChildren(grid, buildLegend(piece.grid));
  card.querySelector("pre.text").textContent = piece.text;
  return card;
}

async function rewriteCycles(card) {
  const form = card.querySelector("form.rewrite");
  const status = form.querySelector(".rewrite-status");
  const button = form.querySelector("button.rewrite");
  const cycles = form.elements.cycles.value.trim();
  const n = Number(form.elements.n.value.trim() || "1");
  button.disabled = true;
  status.classList.remove("error");
  status.textContent = `Rewriting cycles ${cycles}…`;
  try {
    const r = await postJson("/api/infill", {model: card.dataset.model || null, cycles, n,
                                             text: card.querySelector("pre.text").textContent});
    const cards = r.pieces.map((piece, i) => rewrittenCard(card, r, piece, i));
    card.after(...cards);
    const [first, last] = r.cycles;
    const which = first === last ? `Cycle ${first}` : `Cycles ${first}-${last}`;
    status.textContent = `${which} rewritten: ${cards.length} version${cards.length > 1 ? "s" : ""} below, each the ` +
      `best of ${r.candidates} candidates at leading into the rest (seed ${r.seed}).`;
  } catch (e) {
    status.classList.add("error");
    status.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

function setUpTabla() {
  offerModelTalas();
  // One listener for every card's "Rewrite cycles", those added later included.
  document.addEventListener("submit", (ev) => {
    if (!ev.target.matches("article.composition form.rewrite")) return;
    ev.preventDefault();
    rewriteCycles(ev.target.closest("article.composition"));
  });
  setUpCompose({formId: "tabla", url: "/api/tabla/generate",
                pieces: (r) => r.compositions, card: compositionCard, noun: "composition"});
  const theka = document.getElementById("practise-theka");
  if (theka) theka.addEventListener("click", practiseTheka);
  // a composition's own page: the server drew its card
  for (const card of document.querySelectorAll("article.composition[data-id]")) {
    setUpPractice(card, `/api/tabla/${card.dataset.id}/practice`);
  }
}

document.addEventListener("DOMContentLoaded", setUpTabla);
