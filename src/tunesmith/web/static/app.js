// tunesmith's page: generate tunes, and re-render each tune's sheet music as its ABC is edited.
// Plain DOM; every text that came from a tune is set with textContent, never as HTML
// (the SVG comes from the server's engraver, which escapes the tune's text).
"use strict";

// Long enough that typing a note does not start a render per keystroke, short enough to feel live.
const RENDER_DELAY_MS = 300;

async function postJson(path, body) {
  const res = await fetch(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) throw new Error((data && data.detail) || `${res.status} ${res.statusText}`);
  return data;
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
  const link = card.querySelector(".permalink");
  link.href = tune.url;
  link.textContent = `#${tune.id}`;
  card.querySelector(".title").textContent = tune.title;
  card.querySelector("audio").src = tune.files.wav;
  for (const kind of ["abc", "mid", "wav", "svg"]) card.querySelector(`.dl-${kind}`).href = tune.files[kind];
}

function describe(tune) {
  const p = tune.params || {};
  let text = tune.origin + (tune.model ? ` by ${tune.model}` : "");
  if (p.seed !== undefined) text += `, seed ${p.seed}`;
  return text;
}

function newCard(tune) {
  const card = document.getElementById("tune-card").content.firstElementChild.cloneNode(true);
  pointTo(card, tune);
  card.querySelector(".meta").textContent = describe(tune);
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
  let savedText = text.value;
  let timer = null;
  let latest = 0;

  async function rerender() {
    const mine = ++latest;
    status.textContent = "rendering…";
    try {
      const r = await postJson("/api/render", {abc: text.value});
      if (mine !== latest) return;
      sheet.innerHTML = r.svg;
      showProblems(card, r.problems);
      status.textContent = "";
      card.classList.remove("stale");
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
}

function generateRequest(form) {
  const f = new FormData(form);
  const text = (name) => (f.get(name) || "").trim() || null;
  const body = {model: text("model"), meter: text("meter"), key: text("key"), rhythm: text("rhythm"),
                primer: (f.get("primer") || "").replace(/\s+$/, "") || null};
  for (const [name, parse] of [["n", Number], ["temperature", Number], ["seed", Number]]) {
    if (text(name) !== null) body[name] = parse(text(name));
  }
  return body;
}

function setUpGenerate() {
  const form = document.getElementById("generate");
  if (!form) return;
  const go = document.getElementById("go");
  const progress = document.getElementById("progress");
  const error = document.getElementById("error");
  const results = document.getElementById("results");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = generateRequest(form);
    const n = body.n || 1;
    const started = performance.now();
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
    go.disabled = true;
    error.hidden = true;
    progress.classList.add("busy");
    progress.textContent = `Writing ${n} tune${n > 1 ? "s" : ""}…`;
    const tick = setInterval(() => { progress.textContent = `Writing ${n} tune${n > 1 ? "s" : ""}… ${seconds()} s`; }, 100);
    try {
      const r = await postJson("/api/generate", body);
      results.prepend(...r.tunes.map(newCard));
      progress.textContent = `${r.tunes.length} tune${r.tunes.length > 1 ? "s" : ""} in ${seconds()} s (seed ${r.seed})`;
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

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("main > article.tune").forEach(wire);
  setUpGenerate();
});
