// Live progress over Server-Sent Events, clickable table rows, and the new-batch form's pasted
// list kept across a refusal. No framework, no build.
"use strict";

// Progress bar segments, as cards.segments draws them on the server.
const SEGMENTS = { succeeded: ["succeeded"], failed: ["failed", "invalid"], cancelled: ["cancelled"] };
const PASTED = "domainbatch.pasted";
const ACTIVE = ["pending", "processing"];

// Times arrive as epoch seconds or RFC 3339 strings; shown as the server's `when` filter does.
function when(value) {
  if (value === null || value === undefined) return "-";
  const ms = typeof value === "number" ? value * 1000 : Date.parse(value);
  if (Number.isNaN(ms)) return "-";
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

// Durations as the server's `seconds` filter: 0m04.1s, 1h02m03.0s.
function seconds(value) {
  if (value === null || value === undefined) return "-";
  const total = Math.floor(value / 60);
  const secs = (value - total * 60).toFixed(1).padStart(4, "0");
  const hours = Math.floor(total / 60);
  const minutes = total % 60;
  return hours ? hours + "h" + String(minutes).padStart(2, "0") + "m" + secs + "s" : minutes + "m" + secs + "s";
}

function setBar(bar, status) {
  bar.setAttribute("aria-valuenow", status.progress);
  bar.dataset.status = status.status;
  bar.querySelector(".label").textContent = status.progress + "%";
  const counts = status.counts || {};
  for (const [name, parts] of Object.entries(SEGMENTS)) {
    const seg = bar.querySelector('[data-seg="' + name + '"]');
    const n = parts.reduce((sum, part) => sum + (counts[part] || 0), 0);
    if (seg) seg.style.width = (status.total ? (n * 100) / status.total : 0).toFixed(2) + "%";
  }
}

function setErrors(table, errors) {
  const body = table.tBodies[0];
  const rows = Object.entries(errors || {}).map(([code, n]) => {
    const row = document.createElement("tr");
    const th = row.appendChild(document.createElement("th"));
    th.appendChild(document.createElement("code")).textContent = code;
    const td = row.appendChild(document.createElement("td"));
    td.dataset.error = code;
    td.textContent = n;
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    row.className = "none";
    row.appendChild(document.createElement("td")).textContent = "none";
    rows.push(row);
  }
  body.replaceChildren(...rows);
}

function setProgress(root, status) {
  const bar = root.querySelector(".progress");
  if (bar) setBar(bar, status);
  const set = (name, value) => {
    const el = root.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  };
  const badge = root.querySelector('[data-field="status"]');
  if (badge) badge.dataset.status = status.status;
  set("status", status.status);
  set("done", status.done);
  set("rate", status.rate_per_second === null ? "-" : Number(status.rate_per_second).toFixed(2));
  set("eta", seconds(status.eta_seconds));
  set("started_at", when(status.started_at));
  set("finished_at", when(status.finished_at));
  set("duration", seconds(status.duration_seconds));
  for (const [name, n] of Object.entries(status.counts || {})) {
    const el = root.querySelector('[data-count="' + name + '"]');
    if (el) el.textContent = n;
  }
  const errors = root.querySelector("#errors");
  if (errors) setErrors(errors, status.errors);
}

function follow(url, rootFor, expected, onDone) {
  const source = new EventSource(url);
  const ended = new Set();
  // A page with onDone reloads to show the end (its table and buttons change too): until then
  // it keeps saying "processing", so nobody acts on (or captures) a page about to be replaced.
  const show = (status) => {
    const root = rootFor(status.id);
    if (root && (!onDone || ACTIVE.includes(status.status))) setProgress(root, status);
  };
  source.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  source.addEventListener("end", (e) => {
    const status = JSON.parse(e.data);
    show(status);
    ended.add(status.id);
    // Every batch ended: the server closes the stream; stop EventSource reconnecting.
    // (A dropped connection before that is retried by EventSource itself.)
    if (ended.size >= expected) {
      source.close();
      if (onDone) onDone();
    }
  });
  return source;
}

// A refused form comes back from the server with what it could read; a list too large to be
// read at all is put back from this tab's own copy.
function keepPasted(form) {
  const area = form.querySelector("#domains");
  if (form.dataset.refused === undefined) {
    sessionStorage.removeItem(PASTED);
  } else {
    const kept = sessionStorage.getItem(PASTED);
    if (area && !area.value && kept) area.value = kept;
    const field = form.querySelector('[aria-invalid="true"]');
    if (field) field.focus();
  }
  form.addEventListener("submit", () => {
    try {
      sessionStorage.setItem(PASTED, area ? area.value : "");
    } catch (err) {
      sessionStorage.removeItem(PASTED); // over the storage quota: nothing to put back
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const batch = document.getElementById("batch");
  if (batch && batch.dataset.active === "true") {
    // When the batch ends, reload once: the domain table and the buttons change with it. Not
    // if the visitor is already leaving (a filter, a link): their page would be replaced.
    let reload = null;
    window.addEventListener("beforeunload", () => clearTimeout(reload));
    follow("/v1/batches/" + batch.dataset.batch + "/events", () => batch, 1, () => {
      reload = setTimeout(() => window.location.reload(), 300);
    });
  }
  const list = document.getElementById("batches");
  if (list && list.dataset.follow) {
    const ids = list.dataset.follow.split(",").filter(Boolean);
    if (ids.length) {
      const query = ids.map((id) => "id=" + encodeURIComponent(id)).join("&");
      const row = (id) => list.querySelector('tr[data-batch="' + id + '"]');
      follow("/ui/events?" + query, row, ids.length);
    }
  }
  const form = document.getElementById("submit-form");
  if (form) keepPasted(form);
  for (const row of document.querySelectorAll("tr[data-href]")) {
    row.addEventListener("click", (e) => {
      if (!e.target.closest("a")) window.location.href = row.dataset.href;
    });
  }
});
