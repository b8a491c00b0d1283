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
  thead.append(head);
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
  card.querySelector(".title").textContent = c.title;
  const link = card.querySelector(".permalink");
  link.href = c.url;
  link.textContent = `#${c.id}`;
  card.querySelector(".meta").textContent = describeComposition(c);
  card.querySelector(".grid-wrap").replaceChildren(buildGrid(c.grid), buildLegend(c.grid));
  card.querySelector("audio").src = c.files.wav;
  for (const kind of ["txt", "wav", "mid"]) card.querySelector(`.dl-${kind}`).href = c.files[kind];
  card.querySelector("pre.text").textContent = c.text;
  return card;
}

function setUpTabla() {
  setUpCompose({formId: "tabla", url: "/api/tabla/generate",
                pieces: (r) => r.compositions, card: compositionCard, noun: "composition"});
}

document.addEventListener("DOMContentLoaded", setUpTabla);
