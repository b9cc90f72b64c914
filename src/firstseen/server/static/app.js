// firstseen web UI: plain JavaScript, no dependencies, talks only to this server's API.
"use strict";

const $ = (id) => document.getElementById(id);

// Builds an element; text is always set as text, never parsed as HTML.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

function megabytes(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 0)} MB`;
}

// Only web links become links: a stored URL is data, and may be anything.
function link(url) {
  if (!url) return "unknown";
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      return el("a", { href: parsed.href, rel: "noopener noreferrer nofollow", target: "_blank" }, url);
    }
  } catch (_) { /* not a URL: shown as text */ }
  return url;
}

function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [name, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", { text: name }), el("dd", {}, value));
  }
  return list;
}

function show(node, visible) { node.hidden = !visible; }

function fail(box, message) {
  box.textContent = message;
  show(box, true);
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

/* ---------- search ---------- */

let maxUpload = 50 * 1024 * 1024;
let queryURL = null;

function setStatus(text) { $("status").textContent = text; }

function startSearch(file) {
  const error = $("search-error");
  show(error, false);
  if (!file) return;
  if (file.size > maxUpload) {
    fail(error, `${file.name} is ${megabytes(file.size)}: the limit is ${megabytes(maxUpload)}.`);
    return;
  }
  if (queryURL) URL.revokeObjectURL(queryURL);
  queryURL = URL.createObjectURL(file);
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/search?top=${encodeURIComponent($("top").value)}`);
  xhr.responseType = "json";
  const bar = $("progress");
  bar.value = 0;
  show($("progress-box"), true);
  $("file").disabled = true;
  setStatus(`Uploading ${file.name}…`);
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable) bar.value = (100 * event.loaded) / event.total;
  };
  xhr.upload.onload = () => {
    bar.removeAttribute("value");  // indeterminate while the server searches
    setStatus(`Searching the archive for ${file.name}…`);
  };
  const done = () => {
    show($("progress-box"), false);
    $("file").disabled = false;
  };
  xhr.onload = () => {
    done();
    if (xhr.status === 200 && xhr.response) {
      setStatus("");
      renderResults(xhr.response, file);
    } else {
      setStatus("");
      const message = (xhr.response && xhr.response.error) || `the server answered ${xhr.status}`;
      fail(error, `Could not search ${file.name}: ${message}`);
    }
  };
  xhr.onerror = () => {
    done();
    setStatus("");
    fail(error, "Could not reach the server.");
  };
  xhr.send(form);
}

// True matches first, earliest published first (undated after dated); then the rest by score.
function ordered(matches) {
  const rank = (m) => [m.match ? 0 : 1, m.match ? (m.published || "\uffff") : "", -m.score];
  return [...matches].sort((a, b) => {
    const x = rank(a);
    const y = rank(b);
    for (let i = 0; i < x.length; i += 1) {
      if (x[i] < y[i]) return -1;
      if (x[i] > y[i]) return 1;
    }
    return 0;
  });
}

function queryFigure(data, file) {
  const media = data.query_kind === "video" || (file.type || "").startsWith("video/")
    ? el("video", { src: queryURL, controls: true, muted: true, preload: "metadata" })
    : el("img", { src: queryURL, alt: `Your upload, ${data.query}` });
  return el("figure", {}, media, el("figcaption", { text: `Your upload: ${data.query}` }));
}

function sourceFigure(match) {
  const frame = el("div", { class: "frame" },
    el("img", {
      src: match.frame_url,
      alt: `Source frame from ${match.title || match.path}${match.time !== null ? ` at ${clock(match.time)}` : ""}`,
    }));
  const [width, height] = match.reference_size || [0, 0];
  if (match.region && width && height) {
    const [x, y, w, h] = match.region;
    const pct = (v, total) => `${Math.max(0, Math.min(100, (100 * v) / total))}%`;
    frame.append(el("div", {
      class: "region-box",
      role: "img",
      "aria-label": `Region shown by your upload: ${w}×${h} pixels at ${x},${y}`,
      style: { left: pct(x, width), top: pct(y, height), width: pct(w, width), height: pct(h, height) },
    }));
  }
  const where = match.kind === "video" ? `at ${clock(match.time)}` : "photo";
  return el("figure", {}, frame, el("figcaption", { text: `Archived source, ${where}` }));
}

// One line for a candidate that does not match: enough to judge the search, no pictures.
function otherLine(match) {
  const where = match.kind === "video" ? ` at ${clock(match.time)}` : "";
  return el("li", { class: "other", "data-item": match.item_id },
    el("span", { class: "badge nomatch", text: "no match" }), " ",
    el("a", { href: `#/items/${match.item_id}`, text: match.title || match.path }),
    ` ${where} · score ${match.score.toFixed(3)}`);
}

function othersFold(others) {
  if (!others.length) return null;
  const count = `${others.length} candidate${others.length === 1 ? "" : "s"} that do${others.length === 1 ? "es" : ""} not match`;
  return el("li", { class: "others" },
    el("details", {}, el("summary", { text: count }), el("ul", {}, others.map(otherLine))));
}

let alignmentURL = null;

// A clip's answer as one picture: its timeline joined to each matching source's (made by the
// server as SVG, shown as an image so nothing in it can run), beside the clip itself.
function clipOverview(data, file) {
  if (alignmentURL) URL.revokeObjectURL(alignmentURL);
  alignmentURL = null;
  const parts = [queryFigure(data, file)];
  if (data.alignment_svg) {
    alignmentURL = URL.createObjectURL(new Blob([data.alignment_svg], { type: "image/svg+xml" }));
    parts.push(el("figure", { class: "alignment" },
      el("img", { src: alignmentURL, alt: `Timeline of ${data.query} joined to the stretches of each source it copies` }),
      el("figcaption", {},
        "Copied stretches joined: an upright band is a copy at normal speed, a slanted one was played faster or slower. ",
        el("a", { href: alignmentURL, download: "alignment.svg", text: "Download the picture" }))));
  }
  parts.push(keyframesBox(file));
  return el("li", { class: "result-card overview" }, parts);
}

function resultCard(match, earliest, data, file) {
  const badges = [
    el("span", { class: `badge ${match.match ? "match" : "nomatch"}`, text: match.match ? "MATCH" : "no match" }),
  ];
  if (earliest) badges.unshift(el("span", { class: "badge first", text: "Earliest source" }));
  const region = match.region
    ? `${match.region[2]}×${match.region[3]} at ${match.region[0]},${match.region[1]}`
    : null;
  const look = earliest ? " earliest" : match.match ? "" : " compact";
  return el("li", { class: `result-card${look}`, "data-item": match.item_id },
    el("div", { class: "card-head" },
      el("h3", { class: "source", text: match.title || match.path }),
      badges),
    el("div", { class: "pair" }, data.query_kind === "video" ? null : queryFigure(data, file), sourceFigure(match)),
    facts([
      ["Source", match.path],
      ["Time", match.kind === "video" ? el("span", { class: "time", text: clock(match.time) +
        (match.time_span ? ` (or any frame ${clock(match.time_span[0])}–${clock(match.time_span[1])})` : "") }) : null],
      ["Segments", segmentList(match.segments || [])],
      ["Published", match.published || "unknown"],
      ["URL", link(match.url)],
      ["Score", match.score.toFixed(3)],
      ["Region", region],
      ["Mirrored", match.mirrored ? "yes" : null],
      ["Toned back", match.tone],
      ["Credentials", match.credentials ? match.credentials.summary : null],
      ["Metadata", match.metadata ? match.metadata.summary : null],
      ["Item", el("a", { href: `#/items/${match.item_id}`, text: `#${match.item_id} details` })],
    ]));
}

// A video query's aligned stretches: "00:12–00:19 ← source 01:03–01:10", matching ones first.
function segmentList(segments) {
  if (!segments.length) return null;
  return el("ul", { class: "segments" }, ...segments.map((s) =>
    el("li", { class: s.match ? "segment match" : "segment",
      text: `${clock(s.query[0])}–${clock(s.query[1])} ← source ${clock(s.reference[0])}–${clock(s.reference[1])}` +
        (s.match ? "" : " (no match)") })));
}

// What the upload says of itself: its Content Credentials and embedded metadata, in words.
function ownClaims(data) {
  const box = $("results-own");
  $("own-facts").replaceChildren(facts([
    ["Content Credentials", data.credentials ? data.credentials.summary : null],
    ["Embedded metadata", data.metadata ? data.metadata.summary : null],
  ]));
  const broken = data.credentials && ["invalid", "unreadable"].includes(data.credentials.state);
  box.classList.toggle("warning", Boolean(broken));
}

function renderResults(data, file) {
  const list = $("result-list");
  list.replaceChildren();
  const matches = ordered(data.matches);
  const verified = matches.filter((m) => m.match).length;
  const seconds = (data.elapsed_ms / 1000).toFixed(1);
  $("results-summary").textContent = matches.length
    ? `${data.query}: ${verified} match${verified === 1 ? "" : "es"} among ${matches.length} candidates (${seconds} s).`
    : `${data.query}: the archive is empty.`;
  if (data.budget_reached) {
    $("results-summary").textContent +=
      " The fallback budget ended the search before every fallback was tried.";
  }
  ownClaims(data);
  if (data.query_kind === "video") list.append(clipOverview(data, file));
  const others = matches.filter((m) => !m.match);
  matches.filter((m) => m.match).forEach((match, i) => list.append(resultCard(match, i === 0, data, file)));
  const fold = othersFold(others);
  if (fold) list.append(fold);
  show($("results"), true);
  $("results-title").focus({ preventScroll: true });
  $("results").scrollIntoView({ behavior: "smooth", block: "start" });
}

/* ---------- keyframes ---------- */

// The clip cut into one picture per shot, each to download and take to any other search engine.
function keyframesBox(file) {
  const box = el("div", { class: "keyframes" });
  const button = el("button", { type: "button", class: "keyframes-button", text: "Cut into keyframes" });
  const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
  button.addEventListener("click", () => loadKeyframes(file, box, button, status));
  box.append(button, status);
  return box;
}

async function loadKeyframes(file, box, button, status) {
  button.disabled = true;
  status.textContent = `Cutting ${file.name} into keyframes…`;
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const response = await fetch("/api/keyframes", { method: "POST", body: form });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) throw new Error((body && body.error) || `the server answered ${response.status}`);
    status.textContent = `${body.keyframes.length} keyframe${body.keyframes.length === 1 ? "" : "s"} of ${body.shots} shot${body.shots === 1 ? "" : "s"}` +
      (body.left_out ? ` (${body.left_out} more not shown)` : "") + ": each links to its picture.";
    box.append(el("ul", { class: "strip keyframe-list" }, body.keyframes.map((k) => el("li", {},
      el("figure", {},
        el("a", { href: k.image, download: k.file },
          el("img", { src: k.image, alt: `Keyframe at ${clock(k.time)} (shot ${k.shot})` })),
        el("figcaption", {}, el("a", { href: k.image, download: k.file, text: `${clock(k.time)} · shot ${k.shot}` })))))));
    button.hidden = true;
  } catch (err) {
    status.textContent = "";
    box.append(el("p", { class: "error", role: "alert", text: `Could not cut ${file.name} into keyframes: ${err.message}` }));
    button.disabled = false;
  }
}

function setupSearch() {
  const drop = $("drop");
  $("file").addEventListener("change", (event) => startSearch(event.target.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) startSearch(file);
  });
  // A file dropped beside the zone must not make the browser navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("results-title").tabIndex = -1;
  getJSON("/health").then((health) => {
    maxUpload = health.max_upload_bytes;
    $("limits").textContent = `Images and videos up to ${megabytes(maxUpload)}, judged by their content; ` +
      `the file stays on this server only while it is searched. The archive holds ${health.items} items.`;
  }).catch(() => {});
}

/* ---------- archive browser ---------- */

const PAGE = 24;

function archiveQuery() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  return params;
}

async function renderArchive() {
  const params = archiveQuery();
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  $("f-q").value = params.get("q") || "";
  $("f-kind").value = params.get("kind") || "";
  $("f-from").value = params.get("published_from") || "";
  $("f-to").value = params.get("published_to") || "";
  const api = new URLSearchParams();
  for (const key of ["q", "kind", "published_from", "published_to"]) {
    if (params.get(key)) api.set(key, params.get(key));
  }
  api.set("limit", PAGE);
  api.set("offset", offset);
  const grid = $("item-grid");
  show($("archive-error"), false);
  $("archive-status").textContent = "Loading…";
  try {
    const page = await getJSON(`/api/items?${api}`);
    grid.replaceChildren(...page.items.map(itemCard));
    const last = Math.min(page.total, offset + page.items.length);
    $("archive-status").textContent = page.total
      ? `${page.total} item${page.total === 1 ? "" : "s"}`
      : "No items match.";
    $("page-info").textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : "";
    const go = (to) => {
      const next = new URLSearchParams(params);
      next.set("offset", to);
      location.hash = `#/archive?${next}`;
    };
    $("prev").disabled = offset === 0;
    $("next").disabled = last >= page.total;
    $("prev").onclick = () => go(Math.max(0, offset - PAGE));
    $("next").onclick = () => go(offset + PAGE);
  } catch (err) {
    $("archive-status").textContent = "";
    fail($("archive-error"), `Could not load the archive: ${err.message}`);
  }
}

function itemCard(item) {
  const name = item.title || item.path;
  const detail = [item.kind, item.published ? `published ${item.published}` : "undated"];
  if (item.kind === "video" && item.duration) detail.push(clock(item.duration));
  return el("li", {},
    el("a", { href: `#/items/${item.id}` },
      el("img", { src: item.thumbnail_url, alt: "", loading: "lazy" }),
      el("div", { class: "meta" }, el("strong", { text: name }), el("span", { text: detail.join(" · ") }))));
}

function setupArchive() {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(event.target)) {
      if (String(value).trim()) params.set(key, String(value).trim());
    }
    location.hash = `#/archive?${params}`;
  });
}

/* ---------- item page ---------- */

async function renderItem(id) {
  const body = $("item-body");
  body.replaceChildren();
  show($("item-error"), false);
  $("item-title").textContent = `Item ${id}`;
  try {
    const item = await getJSON(`/api/items/${encodeURIComponent(id)}`);
    $("item-title").textContent = item.title || item.path;
    const sightings = el("table", {},
      el("thead", {}, el("tr", {}, ["Published", "Title", "URL", "Path", "Recorded"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, item.sightings.map((s) => el("tr", {},
        el("td", { text: s.published || "undated" }),
        el("td", { text: s.title || "" }),
        el("td", {}, s.url ? link(s.url) : ""),
        el("td", { text: s.path }),
        el("td", { text: s.seen_at })))));
    const step = Math.max(1, Math.ceil(item.frame_list.length / 48));
    const frames = item.frame_list.filter((_, i) => i % step === 0);
    body.append(
      el("figure", { class: "frame" }, el("img", { src: item.thumbnail_url, alt: `Picture of ${item.title || item.path}` })),
      facts([
        ["Kind", item.kind],
        ["First published", item.published || "unknown"],
        ["URL", link(item.url)],
        ["Path", item.path],
        ["Size", `${item.width}×${item.height}`],
        ["Duration", item.kind === "video" && item.duration ? clock(item.duration) : null],
        ["Indexed frames", String(item.frames)],
        ["SHA-256", el("code", { text: item.sha256 })],
        ["Added", item.added_at],
      ]),
      el("section", { class: "wide" }, el("h2", { text: "Sightings, earliest first" }), el("div", { class: "table-wrap" }, sightings)),
      item.kind === "video"
        ? el("section", { class: "wide" }, el("h2", { text: "Indexed frames" }),
          el("ul", { class: "strip" }, frames.map((f) => el("li", {},
            el("figure", {}, el("img", { src: f.url, alt: `Frame at ${clock(f.time)}`, loading: "lazy" }),
              el("figcaption", { text: clock(f.time) }))))))
        : null);
  } catch (err) {
    fail($("item-error"), `Could not load item ${id}: ${err.message}`);
  }
}

/* ---------- routing ---------- */

function route() {
  const hash = location.hash || "#/";
  const path = hash.slice(1).split("?")[0];
  const item = path.match(/^\/items\/(\d+)$/);
  const view = item ? "item" : path.startsWith("/archive") ? "archive" : "search";
  for (const name of ["search", "archive", "item"]) show($(`view-${name}`), name === view);
  $("nav-search").removeAttribute("aria-current");
  $("nav-archive").removeAttribute("aria-current");
  $(view === "search" ? "nav-search" : "nav-archive").setAttribute("aria-current", "page");
  document.title = { search: "firstseen", archive: "Archive · firstseen", item: "Item · firstseen" }[view];
  if (view === "archive") renderArchive();
  if (view === "item") renderItem(item[1]);
}

document.addEventListener("DOMContentLoaded", () => {
  setupSearch();
  setupArchive();
  window.addEventListener("hashchange", route);
  route();
});
