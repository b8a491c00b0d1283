// The listening test (/listen): start a session, play each trial's audio, send the answer, show the results.
// The page knows a trial only by its opaque id and its audio's address; whether the piece was real comes back
// with the answer (when the session reveals). Uses postJson and getJson from app.js (loaded first).
"use strict";

const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
const part = (p) => `${p.judged_human} of ${p.answered}` + (p.answered ? ` (${pct(p.share)})` : "");

// The results table, as listen.html draws it.
async function showResults() {
  const r = await getJson("/api/listen/results");
  const body = document.querySelector("#results tbody");
  const rows = r.models.map((m) => {
    const tr = document.createElement("tr");
    for (const cell of [m.model, m.mode, String(m.answered), pct(m.accuracy),
                        `${pct(m.interval[0])} – ${pct(m.interval[1])}`, part(m.real), part(m.generated)]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.append(td);
    }
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = 7;
    td.textContent = "No answers yet.";
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function setUpListen() {
  const form = document.getElementById("listen");
  if (!form) return;
  const go = document.getElementById("go");
  const progress = document.getElementById("progress");
  const error = document.getElementById("error");
  const section = document.getElementById("trial");
  const player = document.getElementById("player");
  const buttons = [...section.querySelectorAll("button.answer")];
  const feedback = document.getElementById("feedback");
  const next = document.getElementById("next");
  const summary = document.getElementById("summary");
  let session = null;
  let at = 0;

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  function showTrial(i) {
    at = i;
    const trial = session.trials[i];
    document.getElementById("position").textContent = String(i + 1);
    document.getElementById("count").textContent = String(session.trials.length);
    player.src = trial.audio;
    for (const b of buttons) b.disabled = false;
    feedback.textContent = "";
    next.hidden = true;
    section.hidden = false;
    player.focus();
  }

  async function finish() {
    section.hidden = true;
    const s = await getJson(`/api/listen/sessions/${session.id}`);
    summary.textContent = `Session over: you named ${s.score} of ${s.trials.length} pieces rightly `
      + `(seed ${s.seed}; the same seed, model and trials play the same pieces again).`;
    summary.hidden = false;
    go.focus();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {model: form.elements.model.value, trials: Number(form.elements.trials.value),
                  reveal: form.elements.reveal.checked};
    if (form.elements.seed.value.trim() !== "") body.seed = Number(form.elements.seed.value);
    error.hidden = true;
    summary.hidden = true;
    section.hidden = true;
    go.disabled = true;
    progress.classList.add("busy");
    progress.textContent = "Choosing the pieces and writing the model's…";
    try {
      session = await postJson("/api/listen/sessions", body);
      progress.textContent = `${session.trials.length} pieces ready (seed ${session.seed}).`;
      showTrial(0);
    } catch (e) {
      progress.textContent = "";
      showError(e.message);
    } finally {
      progress.classList.remove("busy");
      go.disabled = false;  // another session may be started at any time (this one stays as answered so far)
    }
  });

  async function answer(choice) {
    if (!session || section.hidden || buttons[0].disabled) return;
    for (const b of buttons) b.disabled = true;
    const trial = session.trials[at];
    try {
      const r = await postJson(`/api/listen/trials/${trial.id}/answer`, {answer: choice});
      if (r.correct === null) feedback.textContent = "Answer kept.";
      else {
        const truth = r.origin === "human" ? "a real piece, held out from the model's corpus" : "written by the model";
        feedback.textContent = `${r.correct ? "Right" : "Wrong"}: it was ${truth}.`;
      }
      feedback.dataset.correct = r.correct === null ? "" : String(r.correct);
      await showResults();
      if (r.done) {
        await finish();
      } else {
        next.hidden = false;
        next.focus();
      }
    } catch (e) {
      showError(e.message);
      next.hidden = at + 1 >= session.trials.length;  // this trial is lost to the error; go on with the next
    }
  }

  for (const b of buttons) b.addEventListener("click", () => answer(b.dataset.answer));
  next.addEventListener("click", () => { if (session && at + 1 < session.trials.length) showTrial(at + 1); });
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || section.hidden) return;
    if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
    const key = ev.key.toLowerCase();
    if (key === "h") answer("human");
    else if (key === "m") answer("machine");
    else if (key === "n" && !next.hidden) next.click();
    else return;
    ev.preventDefault();
  });
}

document.addEventListener("DOMContentLoaded", setUpListen);
