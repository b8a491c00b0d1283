// "Your tunes" (/finetune): send a tunebook to fine-tune on, poll the fine-tuning's progress, list them all.
// Every text from the server is set with textContent. Uses postJson and getJson from app.js (loaded first).
"use strict";

const POLL_MS = 1000;
const fmt = (x, digits = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

function bitsAfter(job) {
  return job.report ? job.report.held_out_bits_per_char.after : null;
}

function copies(job) {
  const k = job.report && job.report.copies;
  return k && k.generated ? `${k.flagged} of ${k.generated}` : "–";
}

async function showList() {
  const body = document.querySelector("#finetunes tbody");
  const r = await getJson("/api/finetune");
  const rows = r.finetunes.map((job) => {
    const tr = document.createElement("tr");
    tr.dataset.name = job.name;
    const before = job.before_bits_per_char ?? (job.report && job.report.held_out_bits_per_char.before);
    for (const cell of [job.model, job.base, job.state, job.tunes ?? (job.report && job.report.corpus.tunes) ?? "–",
                        fmt(before), fmt(bitsAfter(job)), copies(job)]) {
      const td = document.createElement("td");
      td.textContent = String(cell);
      tr.append(td);
    }
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 7;
    td.textContent = "None yet.";
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function setUpFinetune() {
  const form = document.getElementById("finetune");
  if (!form) return;
  const go = document.getElementById("go");
  const progress = document.getElementById("progress");
  const error = document.getElementById("error");
  const section = document.getElementById("job");
  const stop = document.getElementById("stop");
  let current = null;

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  function show(job) {
    section.hidden = false;
    document.getElementById("job-name").textContent = job.name;
    const stage = job.state === "running" ? job.stage : job.state;
    document.getElementById("job-stage").textContent =
      stage + (job.error ? `: ${job.error}` : "") + (job.epoch && job.state === "running" ? `, epoch ${job.epoch}` : "");
    const bar = document.getElementById("job-progress");
    bar.max = job.budget_seconds;
    bar.value = Math.min(job.cpu_seconds, job.budget_seconds);
    document.getElementById("job-minutes").textContent =
      `${(job.cpu_seconds / 60).toFixed(2)} of ${(job.budget_seconds / 60).toFixed(2)} CPU minutes`;
    const parts = [];
    if (job.tunes !== null && job.tunes !== undefined) {
      parts.push(`${job.tunes} tunes: ${job.train} to learn from, ${job.held_out} held out`);
    }
    if (job.before_bits_per_char !== null && job.before_bits_per_char !== undefined) {
      parts.push(`held-out bits per character before: ${fmt(job.before_bits_per_char)}`);
    }
    if (job.best_held_out_bits_per_symbol !== null && job.best_held_out_bits_per_symbol !== undefined) {
      parts.push(`best so far: ${fmt(job.best_held_out_bits_per_symbol)}`);
    }
    document.getElementById("job-bits").textContent = parts.join("; ");
    document.getElementById("job-summary").replaceChildren(...job.summary.map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }));
    document.getElementById("job-done").hidden = job.state !== "done";
    document.getElementById("job-model").textContent = job.model;
    const resume = document.getElementById("job-resume");
    resume.hidden = !job.resume;
    resume.textContent = job.resume ? `Carry on from the command line: ${job.resume}` : "";
    stop.hidden = job.state !== "running";
  }

  async function poll(name) {
    current = name;
    while (current === name) {
      let job;
      try {
        job = await getJson(`/api/finetune/${encodeURIComponent(name)}`);
      } catch (e) {
        showError(e.message);
        break;
      }
      show(job);
      if (job.state !== "running") {
        progress.classList.remove("busy");
        progress.textContent = "";
        go.disabled = false;
        await showList();
        break;
      }
      await new Promise((ok) => setTimeout(ok, POLL_MS));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const file = form.elements.tunebook.files[0];
    if (!file) {
      showError("tunebook: choose an ABC file of your tunes");
      return;
    }
    const body = {
      tunebook: await file.text(),
      model: form.elements.model.value || null,
      minutes: Number(form.elements.minutes.value),
      seed: Number(form.elements.seed.value || 0),
      name: form.elements.name.value.trim() || null,
    };
    go.disabled = true;
    progress.classList.add("busy");
    progress.textContent = "sending the tunebook…";
    try {
      const job = await postJson("/api/finetune", body);
      progress.textContent = "fine-tuning in the background…";
      show(job);
      await showList();
      poll(job.name);
    } catch (e) {
      progress.classList.remove("busy");
      progress.textContent = "";
      go.disabled = false;
      showError(e.message);
    }
  });

  stop.addEventListener("click", async () => {
    if (!current) return;
    try {
      show(await postJson(`/api/finetune/${encodeURIComponent(current)}/stop`, {}));
    } catch (e) {
      showError(e.message);
    }
  });

  showList().catch((e) => showError(e.message));
}

document.addEventListener("DOMContentLoaded", setUpFinetune);
