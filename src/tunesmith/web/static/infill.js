// Rewrite some bars of a tune in its editor: "Bars [3-4] [Rewrite bars]" on every tune card.
// The server's infill writes new music for those bars that leads into the bars after them
// (the best of several candidates); the rest of the text stays as it was. Kept apart from
// app.js: it reads the card's textarea and hands the new text back with an input event,
// on which app.js re-renders the sheet music and offers Save. Uses app.js's postJson.
"use strict";

// The model the compose form has chosen, when the page has one (a tune's own page: the default).
function infillModel() {
  const select = document.querySelector("#generate select[name=model]");
  return select ? select.value : null;
}

async function rewriteBars(card) {
  const text = card.querySelector("textarea.abc");
  const bars = card.querySelector(".infill input.bars");
  const button = card.querySelector(".infill button.rewrite");
  const status = card.querySelector(".infill .infill-status");
  const asked = bars.value.trim();
  button.disabled = true;
  status.classList.remove("error");
  status.textContent = `Rewriting bars ${asked}…`;
  try {
    const r = await postJson("/api/infill", {abc: text.value, bars: asked, n: 1, model: infillModel()});
    const [first, last] = r.bars;
    text.value = r.tunes[0].abc;
    text.dispatchEvent(new Event("input", {bubbles: true}));
    const which = first === last ? `Bar ${first}` : `Bars ${first}-${last}`;
    status.textContent = `${which} rewritten, the best of ${r.candidates} candidates at leading into the bars ` +
      `after them (seed ${r.seed}).`;
  } catch (e) {
    status.classList.add("error");
    status.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

// One listener for every card, those added later by app.js included.
document.addEventListener("click", (ev) => {
  const button = ev.target.closest(".infill button.rewrite");
  if (button) rewriteBars(button.closest("article.tune"));
});
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && ev.target.matches(".infill input.bars")) {
    ev.preventDefault();
    rewriteBars(ev.target.closest("article.tune"));
  }
});
