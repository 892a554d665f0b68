// soundtag review: one page of the ranking at a time; a key press records a decision and shows the next
// clip at once (its audio and picture were fetched while the current one played).
"use strict";

const state = {labels: [], page: [], index: -1, total: 0, before: 0, prefetched: new Map(),
               queue: Promise.resolve(), searchHits: [], searchAt: 0};
const $ = (id) => document.getElementById(id);

function url(kind, fname) {
  return `/${kind}/${fname.split("/").map(encodeURIComponent).join("/")}`;
}

async function api(path, options = {}) {
  const response = await fetch(path, {credentials: "same-origin", ...options});
  if (!response.ok) {
    const text = await response.text();
    throw new Error(`${response.status}: ${text}`);
  }
  return response.json();
}

function post(path, body) {
  // decisions go out one after another, in the order they were made
  const sent = state.queue.then(() => api(path, {method: "POST", headers: {"content-type": "application/json"},
                                                 body: JSON.stringify(body || {})}));
  state.queue = sent.catch(() => {});
  return sent.then((reply) => { showCounts(reply.counts); return reply; }, (error) => { say(error.message); throw error; });
}

function say(text) { $("message").textContent = text; }

function filters() {
  return {label: $("filter-label").value, verdict: $("filter-verdict").value, status: $("filter-status").value};
}

async function loadPage(where) {
  const query = new URLSearchParams({...filters(), ...where, limit: String(state.pageSize || 50)});
  const reply = await api(`/api/clips?${query}`);
  state.page = reply.clips;
  state.total = reply.total;
  state.before = reply.before;
  showCounts(reply.counts);
  renderList();
  return reply;
}

function showCounts(counts) {
  if (!counts) return;
  $("progress").textContent = `${counts.reviewed} of ${counts.clips} unverified clips reviewed` +
    ` \u00b7 ${counts.changed} labels changed \u00b7 ${counts.skipped} skipped`;
}

function renderList() {
  const list = $("clip-list");
  list.replaceChildren(...state.page.map((clip, i) => {
    const item = document.createElement("li");
    item.dataset.index = String(i);
    item.className = clip.decision ? `decided ${clip.decision.decision}` : "";
    const rank = Object.assign(document.createElement("span"), {className: "rank", textContent: `#${clip.rank}`});
    const given = Object.assign(document.createElement("span"), {className: "given", textContent: clip.given || "(none)"});
    const bar = Object.assign(document.createElement("span"), {className: "doubt", title: `doubt ${clip.doubt.toFixed(2)}`});
    bar.style.setProperty("--doubt", clip.doubt.toFixed(3));
    const badge = Object.assign(document.createElement("span"), {className: "badge",
      textContent: clip.decision ? decisionText(clip.decision) : ""});
    item.append(rank, given, bar, badge);
    item.addEventListener("click", () => select(i));
    return item;
  }));
  const first = state.page.length ? state.before + 1 : 0;
  $("page-info").textContent = `${first}\u2013${state.before + state.page.length} of ${state.total}`;
  $("prev-page").disabled = state.before === 0;
  $("next-page").disabled = state.before + state.page.length >= state.total;
  $("empty").hidden = state.page.length > 0;
  $("clip").classList.toggle("nothing", state.page.length === 0);
}

function decisionText(decision) {
  if (decision.decision === "relabel") return `\u2192 ${decision.label}`;
  if (decision.decision === "none") return "none of the classes";
  return decision.decision === "accept" ? "accepted" : "skipped";
}

function audioFor(fname) {
  let audio = state.prefetched.get(fname);
  if (!audio) {
    audio = new Audio();
    audio.preload = "auto";
    audio.src = url("audio", fname);
    state.prefetched.set(fname, audio);
  }
  return audio;
}

function prefetch(index) {
  const clip = state.page[index];
  if (!clip) return;
  audioFor(clip.fname);
  new Image().src = url("picture", clip.fname);
  for (const name of state.prefetched.keys()) {  // keep the current, previous and next few only
    if (!state.page.slice(Math.max(0, index - 3), index + 2).some((c) => c.fname === name)) state.prefetched.delete(name);
  }
}

function select(index, play = true) {
  const clip = state.page[index];
  if (!clip) return;
  const previous = state.page[state.index];
  if (previous && previous.fname !== clip.fname) audioFor(previous.fname).pause();
  state.index = index;
  for (const item of $("clip-list").children) item.classList.toggle("current", item.dataset.index === String(index));
  $("clip-list").children[index]?.scrollIntoView({block: "nearest"});
  $("clip-rank").textContent = `#${clip.rank}`;
  $("clip-name").textContent = clip.fname;
  $("clip-verdicts").replaceChildren(...clip.verdicts.map((name) =>
    Object.assign(document.createElement("span"), {className: "verdict", textContent: state.verdicts[name] || name})));
  $("clip-decision").textContent = clip.decision ? `decided: ${decisionText(clip.decision)}` : "";
  $("given-label").textContent = clip.given || "(none of the classes)";
  $("model-probability").textContent = clip.model_probability === null ? "" :
    `model gives it ${(100 * clip.model_probability).toFixed(0)} %`;
  const audio = audioFor(clip.fname);
  audio.controls = true;
  $("player").replaceChildren(audio);
  if (play) { audio.currentTime = 0; audio.play().catch(() => {}); }
  $("picture").src = url("picture", clip.fname);
  $("suggestions").replaceChildren(...clip.suggestions.map((s, k) => {
    const item = document.createElement("li");
    const bar = Object.assign(document.createElement("span"), {className: "bar"});
    bar.style.setProperty("--p", s.probability.toFixed(3));
    item.append(Object.assign(document.createElement("kbd"), {textContent: String(k + 1)}), " ",
                Object.assign(document.createElement("span"), {className: "label", textContent: s.label}), bar,
                Object.assign(document.createElement("span"), {className: "p", textContent: `${(100 * s.probability).toFixed(0)} %`}));
    item.classList.toggle("is-given", clip.given.split(",").includes(s.label));
    item.addEventListener("click", () => decide("relabel", s.label));
    return item;
  }));
  prefetch(index + 1);
  if (index >= state.page.length - 3) nextPageSoon();
}

let loadingNext = null;
function nextPageSoon() {
  // keep the list going: fetch the clips after this page's last before the person gets there
  if (loadingNext || state.before + state.page.length >= state.total) return;
  const last = state.page[state.page.length - 1];
  const query = new URLSearchParams({...filters(), start: String(last.rank + 1), limit: String(state.pageSize || 50)});
  loadingNext = api(`/api/clips?${query}`).then((reply) => {
    const known = new Set(state.page.map((c) => c.fname));
    state.page.push(...reply.clips.filter((c) => !known.has(c.fname)));
    renderList();
    for (const item of $("clip-list").children) item.classList.toggle("current", item.dataset.index === String(state.index));
  }).finally(() => { loadingNext = null; });
}

function decide(decision, label = "") {
  const clip = state.page[state.index];
  if (!clip) return;
  clip.decision = {decision, label: decision === "accept" ? clip.given : label};
  post("/api/decision", {fname: clip.fname, decision, label}).then((reply) => {
    clip.decision = {decision: reply.decision.decision, label: reply.decision.label};
    renderItem(state.page.indexOf(clip));
  }, () => { clip.decision = null; renderItem(state.page.indexOf(clip)); });
  renderItem(state.index);
  closeSearch();
  if (state.index + 1 < state.page.length) select(state.index + 1);
  else { say("End of the list: every clip that matches the filters has been seen."); audioFor(clip.fname).pause(); }
}

function renderItem(index) {
  const clip = state.page[index];
  const item = $("clip-list").children[index];
  if (!clip || !item) return;
  item.className = (clip.decision ? `decided ${clip.decision.decision}` : "") + (index === state.index ? " current" : "");
  item.querySelector(".badge").textContent = clip.decision ? decisionText(clip.decision) : "";
  if (index === state.index) $("clip-decision").textContent = clip.decision ? `decided: ${decisionText(clip.decision)}` : "";
}

async function undo() {
  const reply = await post("/api/undo").catch(() => null);
  if (!reply) return;
  if (!reply.undone) { say("Nothing to undo."); return; }
  say(`Undone: ${reply.undone}`);
  let index = state.page.findIndex((c) => c.fname === reply.undone);
  if (index < 0) {  // not on this page: start the list again, the undone clip is pending anew
    await loadPage({start: "1"});
    index = Math.max(0, state.page.findIndex((c) => c.fname === reply.undone));
  } else {
    state.page[index].decision = null;
    renderItem(index);
  }
  select(index);
}

function openSearch(initial = "") {
  $("search-box").hidden = false;
  $("search").value = initial;
  $("search").focus();
  search();
}

function closeSearch() {
  $("search-box").hidden = true;
  $("search").blur();
}

function search() {
  const words = $("search").value.toLowerCase().split(/[\s_]+/).filter(Boolean);
  state.searchHits = state.labels.filter((label) => words.every((w) => label.toLowerCase().includes(w))).slice(0, 8);
  state.searchAt = 0;
  renderSearch();
}

function renderSearch() {
  $("search-results").replaceChildren(...state.searchHits.map((label, k) => {
    const item = Object.assign(document.createElement("li"), {textContent: label});
    item.classList.toggle("chosen", k === state.searchAt);
    item.addEventListener("mousedown", (event) => { event.preventDefault(); decide("relabel", label); });
    return item;
  }));
}

function onSearchKey(event) {
  if (event.key === "Escape") { closeSearch(); }
  else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const step = event.key === "ArrowDown" ? 1 : -1;
    state.searchAt = Math.min(Math.max(0, state.searchAt + step), Math.max(0, state.searchHits.length - 1));
    renderSearch();
  } else if (event.key === "Enter" && state.searchHits.length) { decide("relabel", state.searchHits[state.searchAt]); }
  else return;
  event.preventDefault();
}

function onKey(event) {
  if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT" || event.altKey) return;
  const key = event.key;
  const audio = state.page[state.index] && audioFor(state.page[state.index].fname);
  if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "z") undo();
  else if (event.ctrlKey || event.metaKey) return;
  else if (key === "Enter" || key === "a") decide("accept");
  else if (["1", "2", "3"].includes(key)) {
    const suggestion = state.page[state.index]?.suggestions[Number(key) - 1];
    if (suggestion) decide("relabel", suggestion.label);
  } else if (key === "n") decide("none");
  else if (key === "s") decide("skip");
  else if (key === "u") undo();
  else if (key === "/" || key === "l") openSearch();
  else if (key === " " && audio) { if (audio.paused) audio.play().catch(() => {}); else audio.pause(); }
  else if (key === "r" && audio) { audio.currentTime = 0; audio.play().catch(() => {}); }
  else if (key === "ArrowDown" || key === "j") select(Math.min(state.index + 1, state.page.length - 1));
  else if (key === "ArrowUp" || key === "k") select(Math.max(state.index - 1, 0));
  else return;
  event.preventDefault();
}

async function reload(where = {start: "1"}) {
  await loadPage(where);
  state.index = -1;
  select(0, false);
}

async function start() {
  const firstPage = loadPage({start: "1"});  // asked for at once, beside the session's state
  const info = await api("/api/state");
  state.labels = info.labels;
  state.verdicts = info.verdicts;
  state.pageSize = info.page_size;
  $("corpus").textContent = `${info.corpus}${info.source ? " \u00b7 " + info.source : ""}`;
  $("filter-label").append(...info.labels.map((label) => new Option(label, label)));
  $("filter-verdict").append(...Object.entries(info.verdicts).map(([value, text]) => new Option(text, value)));
  for (const id of ["filter-label", "filter-verdict", "filter-status"]) $(id).addEventListener("change", () => reload());
  $("prev-page").addEventListener("click", () => reload({end: String(state.page[0].rank)}));
  $("next-page").addEventListener("click", () => reload({start: String(state.page[state.page.length - 1].rank + 1)}));
  for (const button of document.querySelectorAll("#actions button")) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      if (action === "undo") undo(); else if (action === "search") openSearch(); else decide(action);
    });
  }
  $("search").addEventListener("input", search);
  $("search").addEventListener("keydown", onSearchKey);
  $("search").addEventListener("blur", () => setTimeout(closeSearch, 150));
  document.addEventListener("keydown", onKey);
  await firstPage;
  select(0, false);
}

start().catch((error) => say(`Could not load the review: ${error.message}`));
