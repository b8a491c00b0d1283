// The practice player on a tune page (tune.html mounts it just after the tune's card).
//
// The server sends the tune once per key (POST /api/player: the score engraved in that key, the notes with
// their bars and drawn notes, bars as played, the metronome's beats, the chords in a pattern for the rhythm;
// render/practice.py). Everything else happens here, with no request: the tempo (40-200 % of the tune's),
// a loop of bars, the count-in, the metronome and the chords on or off. The sound is synthesised with Web
// Audio from those notes (no samples, nothing from elsewhere), scheduled a little ahead of the clock, so
// that a tempo change or a pause takes effect at once and a loop can run until it is stopped; the cursor
// lights the notes of the score as they sound.
//
// `TunesmithPlayer.of(card)` is the card's player: play(), pause(), stop(), timeline(), renderOffline() (the
// same sound rendered into a buffer, faster than real time) and `log`, what the last play scheduled (each
// item's timeline time `t` in whole notes and audio time `at` in seconds).
// Uses postJson from app.js (loaded first).
"use strict";

const LOOKAHEAD_S = 0.3;       // how far ahead of the audio clock notes are scheduled
const TICK_MS = 50;            // how often the scheduler looks (well under LOOKAHEAD_S)
const START_DELAY_S = 0.08;    // from the press of Play to the first sound
const RELEASE_S = 0.06;        // each note fades out this long after its end
const OFFLINE_RATE = 8000;     // samples a second for renderOffline: plenty for a length, quick to render

const midiHz = (pitch) => 440 * Math.pow(2, (pitch - 69) / 12);

// One sound: an oscillator through an envelope into `out`. Returns the oscillator (to stop it early).
function sound(ctx, out, item, at, seconds) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  const level = item.velocity / 127;
  let peak, sustain, type = "triangle";
  if (item.kind === "click") {
    peak = item.strong ? 0.5 : 0.3;
    sustain = 0.0001;
    type = "square";
    seconds = 0.03;
    osc.frequency.value = item.strong ? 1760 : 1320;
  } else {
    osc.frequency.value = midiHz(item.pitch);
    peak = (item.kind === "melody" ? 0.32 : item.kind === "bass" ? 0.30 : 0.11) * level;
    sustain = peak * 0.6;
    if (item.kind === "chord") type = "sine";
  }
  osc.type = type;
  const end = at + Math.max(seconds, 0.02);
  gain.gain.setValueAtTime(0, at);
  gain.gain.linearRampToValueAtTime(peak, at + 0.006);
  gain.gain.exponentialRampToValueAtTime(Math.max(sustain, 0.0001), Math.min(end, at + 0.15));
  gain.gain.setValueAtTime(Math.max(sustain, 0.0001), end);
  gain.gain.exponentialRampToValueAtTime(0.0001, end + RELEASE_S);
  osc.connect(gain).connect(out);
  osc.start(at);
  osc.stop(end + RELEASE_S);
  return osc;
}

class PracticePlayer {
  constructor(root, card) {
    this.root = root;
    this.card = card;
    this.data = null;         // the server's answer for `loadedFor`
    this.loadedFor = null;
    this.ctx = null;
    this.state = "stopped";   // "playing", "paused", "stopped"
    this.log = [];            // what the last play scheduled: {kind, pitch, bar, pass, t, at}
    this.sounding = new Set();
    this.lit = [];
    this.resumeAt = 0;        // where in the timeline a paused play goes on
    this.shownKey = 0;        // the key (semitones moved) of the score the card shows
    this.control = (name) => root.querySelector(`[data-control="${name}"]`);
    this.status = root.querySelector(".player-status");
    this.wire();
  }

  wire() {
    this.control("play").addEventListener("click", () => (this.state === "playing" ? this.pause() : this.play()));
    this.control("stop").addEventListener("click", () => this.stop());
    const tempo = this.control("tempo");
    tempo.addEventListener("input", () => { this.showTempo(); if (this.state === "playing") this.retime(); });
    this.showTempo();
    this.control("transpose").addEventListener("change", () => this.moveKey(true));
    // The card's download menu names a key too: one key for the card, whichever menu set it.
    const downloads = this.card.querySelector("select.transpose");
    if (downloads) downloads.addEventListener("change", () => {
      if (this.control("transpose").value !== downloads.value) {
        this.control("transpose").value = downloads.value;
        this.moveKey(false);
      }
    });
    // What is played changed: a play starts again with it; a paused one, whose place was in the old, stops.
    for (const name of ["loop", "from", "to", "times", "countin", "metronome", "chords"]) {
      this.control(name).addEventListener("change", () => {
        if (this.state === "playing") this.restart();
        else this.stop();
      });
    }
    // The editor re-rendered the score from new text (app.js): what was loaded is for the old text.
    document.addEventListener("card-rendered", (ev) => {
      if (ev.detail !== this.card) return;
      this.stop();
      this.data = null;
      this.shownKey = 0;  // app.js drew the new text in the written key
      if (Number(this.control("transpose").value) !== 0) this.load().catch((e) => this.say(e.message));
    });
  }

  say(text) { this.status.textContent = text; }

  factor() { return Number(this.control("tempo").value) / 100; }

  showTempo() {
    const out = this.root.querySelector(".tempo-value");
    let text = `${this.control("tempo").value} %`;
    if (this.data && this.data.beat) {
      const perMinute = (this.data.qpm / 4 / this.data.beat) * this.factor();
      text += ` (${Math.round(perMinute)} beats a minute)`;
    }
    out.textContent = text;
  }

  // The tune in the key chosen, from the server when the text or the key changed; the score shows that key.
  async load() {
    const abc = this.card.querySelector("textarea.abc").value;
    const transpose = Number(this.control("transpose").value);
    const wanted = `${transpose}\n${abc}`;
    if (this.data && this.loadedFor === wanted) return this.data;
    this.say("Reading the tune…");
    const data = await postJson("/api/player", {abc, transpose});
    const now = `${Number(this.control("transpose").value)}\n${this.card.querySelector("textarea.abc").value}`;
    if (now !== wanted) return this.load();  // changed while the request was out: ask again
    this.data = data;
    this.loadedFor = wanted;
    // The score in the written key is the one the page shows already (with the same note ids, and maybe the
    // surprise map's colours on it): it is replaced only to show another key, or to come back from one.
    const sheet = this.card.querySelector(".sheet");
    if (data.svg && (transpose !== 0 || this.shownKey !== 0 || !sheet.querySelector("svg"))) sheet.innerHTML = data.svg;
    this.shownKey = transpose;
    if (transpose !== 0 || data.svg_error) this.card.querySelector(".status").textContent = data.svg_error || "";
    this.describe();
    return data;
  }

  describe() {
    const d = this.data;
    const numbered = d.bars.map((b) => b.number).filter((n) => n);
    const last = numbered.length ? Math.max(...numbered) : 0;
    for (const name of ["from", "to"]) this.control(name).max = String(Math.max(last, 1));
    this.root.querySelector(".player-key").textContent = d.key ? `key ${d.key}` : "";
    const from = d.chords_from === "symbols" ? "the tune's chord symbols"
      : d.chords_from === "harmonised" ? "chords harmonised for it" : d.chords_from.replace(/^none: /, "no chords: ");
    const rhythm = d.rhythm ? `${d.rhythm}, ` : "";
    this.root.querySelector(".chord-pattern").textContent =
      d.chords.length ? `${d.pattern} (${rhythm}${d.meter}; ${from})` : `(${from})`;
    this.showTempo();
    this.say(`${last} bars, ${d.meter || "free meter"}. Ready.`);
  }

  // Key changed: the score and the notes in the new key; the downloads follow (app.js moves their links).
  async moveKey(fromPlayer) {
    const playing = this.state === "playing";
    this.stop();
    if (fromPlayer) this.showDownloadsIn(this.control("transpose").value);
    try {
      await this.load();
      if (playing) await this.play();
    } catch (e) {
      // Not moved (a tune with no key to move): both menus back to the key the score is in.
      const was = String(this.data ? this.data.transpose : 0);
      this.control("transpose").value = was;
      this.showDownloadsIn(was);
      this.say(e.message);
    }
  }

  // The card's download menu set to `semitones` too (app.js moves the links when it changes).
  showDownloadsIn(semitones) {
    const downloads = this.card.querySelector("select.transpose");
    if (downloads && downloads.value !== semitones) {
      downloads.value = semitones;
      downloads.dispatchEvent(new Event("change"));
    }
  }

  // What the controls ask for now.
  settings() {
    const on = (name) => this.control(name).checked;
    const loop = on("loop") ? {from: Number(this.control("from").value), to: Number(this.control("to").value),
                                times: this.control("times").value.trim() === "" ? Infinity
                                  : Math.max(1, Math.floor(Number(this.control("times").value)))} : null;
    return {factor: this.factor(), loop, countIn: on("countin"), metronome: on("metronome"), chords: on("chords")};
  }

  // The stretch of music to play, in whole notes: the whole tune, or from the first time bar `from` starts
  // to the end of the bar `to` that follows it. Throws a message when the bars are not in the tune.
  segment(loop) {
    const d = this.data;
    if (!loop) return {start: 0, end: d.end, passes: 1};
    const {from, to} = loop;
    const bars = d.bars;
    const last = Math.max(0, ...bars.map((b) => b.number || 0));
    if (!(from >= 1 && to >= from && to <= last)) {
      throw new Error(`Loop bars ${from}–${to}: choose bars from 1 to ${last}, the first not after the last.`);
    }
    const i = bars.findIndex((b) => b.number === from);
    let j = i;
    while (j < bars.length && bars[j].number !== to) j++;
    if (i < 0 || j >= bars.length) throw new Error(`Loop bars ${from}–${to}: bar ${to} is not played after bar ${from}.`);
    return {start: bars[i].start, end: bars[j].end, passes: loop.times};
  }

  // Everything to play, in order, as a generator (a loop until stopped never ends): items with `t` and `d`
  // in whole notes from the start of the play, the count-in first.
  *timeline(s = this.settings()) {
    const d = this.data;
    const seg = this.segment(s.loop);
    const length = seg.end - seg.start;
    let offset = 0;
    if (s.countIn && d.beat && d.beats) {
      const bar = d.beat * d.beats;
      // The count-in is one bar; a pickup comes in at its end, on the beats it belongs to.
      const first = d.bars.find((b) => b.end > seg.start);
      const pickup = first && first.start === seg.start && seg.start === 0 && first.end - first.start < bar
        ? first.end - first.start : 0;
      for (let k = 0; k < d.beats; k++) {
        yield {kind: "click", strong: k === 0, t: k * d.beat, d: d.beat / 2, velocity: 100, pass: -1};
      }
      offset = Math.max(0, bar - pickup);
    }
    const inSegment = (x) => x.start >= seg.start && x.start < seg.end;
    const notes = d.notes.filter(inSegment);
    const chords = s.chords ? d.chords.filter(inSegment) : [];
    const clicks = s.metronome ? d.clicks.filter((c) => c.time >= seg.start && c.time < seg.end) : [];
    for (let pass = 0; pass < seg.passes; pass++) {
      const at = offset + pass * length - seg.start;
      const items = [];
      for (const n of notes) {
        items.push({kind: "melody", pitch: n.pitch, velocity: n.velocity, id: n.id, bar: n.bar, pass,
                    t: at + n.start, d: Math.min(n.duration, seg.end - n.start)});
      }
      for (const c of chords) {
        items.push({kind: c.part, pitch: c.pitch, velocity: c.velocity, pass,
                    t: at + c.start, d: Math.min(c.duration, seg.end - c.start)});
      }
      for (const c of clicks) items.push({kind: "click", strong: c.strong, velocity: 100, pass, t: at + c.time, d: 0});
      items.sort((a, b) => a.t - b.t);
      // A pass with nothing to sound (a loop of rests, no metronome): a silent mark at its end, so that a
      // loop until stopped still moves on in time rather than looking for its next sound for ever.
      if (!items.length) items.push({kind: "rest", pass, t: at + seg.end, d: 0});
      yield* items;
    }
  }

  secondsPerWhole(factor) { return 240 / (this.data.qpm * factor); }

  // -- playing --------------------------------------------------------------------------------------

  async play() {
    if (this.state === "playing" || this.starting) return;  // a second click while the tune is read
    this.starting = true;
    try {
      await this.load();
      this.items = this.timeline();
      this.next = this.items.next();
      if (!this.ctx) this.ctx = new AudioContext();
      await this.ctx.resume();
    } catch (e) {
      this.say(e.message);
      return;
    } finally {
      this.starting = false;
    }
    this.master = this.ctx.createGain();
    this.master.gain.value = 0.8;
    this.master.connect(this.ctx.destination);
    const from = this.state === "paused" ? this.resumeAt : 0;
    while (!this.next.done && this.next.value.t < from) this.next = this.items.next();  // resume: skip what was played
    if (from === 0) this.log = [];
    this.clearCursor();
    this.pending = [];                // scheduled melody notes, for the cursor: {at, ids, bar}
    this.spw = this.secondsPerWhole(this.factor());
    this.anchor = {audio: this.ctx.currentTime + START_DELAY_S, music: from};
    this.lastT = null;                // the timeline's time of the last item scheduled
    this.lastEnd = 0;                 // the audio time the last sound scheduled so far ends
    this.state = "playing";
    this.control("play").textContent = "Pause";
    this.control("play").setAttribute("aria-pressed", "true");
    this.say(from === 0 && this.settings().countIn && this.data.beats ? "Counting in…" : "Playing");
    this.timer = setInterval(() => this.schedule(), TICK_MS);
    this.schedule();
    this.frame = requestAnimationFrame(() => this.follow());
  }

  audioTime(t) { return this.anchor.audio + (t - this.anchor.music) * this.spw; }

  musicNow() { return this.anchor.music + (this.ctx.currentTime - this.anchor.audio) / this.spw; }

  // The tempo moved while playing: the new rate from the last note scheduled on (those already scheduled,
  // a fraction of a second's worth, play as they were), so the music goes on without a gap or a jump.
  retime() {
    const from = this.lastT === null ? this.anchor.music : this.lastT;
    this.anchor = {audio: this.audioTime(from), music: from};
    this.spw = this.secondsPerWhole(this.factor());
  }

  schedule() {
    const horizon = this.ctx.currentTime + LOOKAHEAD_S;
    while (!this.next.done && this.audioTime(this.next.value.t) < horizon) {
      const item = this.next.value;
      const at = this.audioTime(item.t);
      this.lastT = item.t;
      this.next = this.items.next();
      if (item.kind === "rest") continue;
      const osc = sound(this.ctx, this.master, item, at, item.d * this.spw);
      this.sounding.add(osc);
      osc.onended = () => this.sounding.delete(osc);
      this.log.push({kind: item.kind, pitch: item.pitch, bar: item.bar, pass: item.pass, t: item.t, at});
      if (item.kind === "melody") {
        const last = this.pending[this.pending.length - 1];
        if (last && last.at === at) { if (item.id) last.ids.push(item.id); }
        else this.pending.push({at, ids: item.id ? [item.id] : [], bar: item.bar, t: item.t});
      }
      this.lastEnd = Math.max(this.lastEnd, at + item.d * this.spw);
    }
    if (this.next.done && this.ctx.currentTime > this.lastEnd + RELEASE_S) this.finish();
  }

  // The cursor: each frame, the notes sounding now lit on the score.
  follow() {
    if (this.state !== "playing") return;
    this.lightDue(this.ctx.currentTime);
    this.frame = requestAnimationFrame(() => this.follow());
  }

  // Light the latest notes that have started by `now` (a chord's notes together), and name their bar.
  lightDue(now) {
    let due = null;
    while (this.pending.length && this.pending[0].at <= now) due = this.pending.shift();
    if (!due) return;
    this.clearCursor();
    const sheet = this.card.querySelector(".sheet");
    for (const id of due.ids) {
      const g = sheet.querySelector(`[id="${CSS.escape(id)}"]`);
      if (g) { g.classList.add("playing"); this.lit.push(g); }
    }
    if (this.lit.length) keepInView(this.lit[0]);
    if (due.bar) this.say(`Playing bar ${due.bar}`);
  }

  clearCursor() {
    for (const g of this.lit) g.classList.remove("playing");
    this.lit = [];
  }

  halt() {
    clearInterval(this.timer);
    cancelAnimationFrame(this.frame);
    for (const osc of this.sounding) { try { osc.stop(); } catch (_) { /* already stopped */ } }
    this.sounding.clear();
    if (this.master) this.master.disconnect();
    this.control("play").textContent = "Play";
    this.control("play").setAttribute("aria-pressed", "false");
  }

  pause() {
    if (this.state !== "playing") return;
    this.resumeAt = Math.max(0, this.musicNow());
    this.halt();
    this.log = this.log.filter((x) => x.t < this.resumeAt);  // scheduled but silenced: Play schedules them again
    this.state = "paused";
    this.say("Paused.");
  }

  stop() {
    if (this.state === "stopped") return;
    this.halt();
    this.clearCursor();
    this.state = "stopped";
    this.resumeAt = 0;
    this.say("Stopped.");
  }

  // The end of a play that was not stopped: the last notes stay lit until the next play.
  finish() {
    this.lightDue(Infinity);  // whatever the last frame did not reach
    this.halt();
    this.state = "stopped";
    this.resumeAt = 0;
    this.say(`Played ${this.log.filter((x) => x.kind === "melody").length} notes.`);
  }

  // A setting changed mid-play: play again from the start of the music (or the loop), with it.
  restart() {
    this.stop();
    this.play();
  }

  // The sound of one play with the current settings (a loop until stopped: played once), rendered into
  // a buffer as fast as the machine can: for tests and measures of what the player plays.
  async renderOffline(sampleRate = OFFLINE_RATE) {
    await this.load();
    const s = this.settings();
    if (s.loop && s.loop.times === Infinity) s.loop.times = 1;
    const items = [...this.timeline(s)].filter((x) => x.kind !== "rest");
    const spw = this.secondsPerWhole(s.factor);
    const end = items.reduce((last, x) => Math.max(last, x.t + x.d), 0) * spw + RELEASE_S + 0.5;
    const ctx = new OfflineAudioContext(1, Math.ceil(end * sampleRate), sampleRate);
    for (const item of items) sound(ctx, ctx.destination, item, item.t * spw, item.d * spw);
    return ctx.startRendering();
  }
}

// Scroll the score so the cursor stays on screen (only when it has left it).
function keepInView(el) {
  const r = el.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight - 120) el.scrollIntoView({block: "center", behavior: "smooth"});
}

const TunesmithPlayer = {
  players: new WeakMap(),
  of(card) { return this.players.get(card); },
};

document.addEventListener("DOMContentLoaded", () => {
  for (const root of document.querySelectorAll("section.player")) {
    const card = root.previousElementSibling;
    if (card && card.matches("article.tune")) TunesmithPlayer.players.set(card, new PracticePlayer(root, card));
  }
});
