// Live progress over Server-Sent Events, and clickable table rows. No framework, no build.
"use strict";

function setProgress(root, status) {
  const bar = root.querySelector(".progress");
  if (bar) {
    bar.setAttribute("aria-valuenow", status.progress);
    bar.querySelector(".bar").style.width = status.progress + "%";
    bar.querySelector(".label").textContent = status.progress + "%";
  }
  const set = (name, value) => {
    const el = root.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  };
  set("status", status.status);
  set("done", status.done);
  set("rate", status.rate_per_second === null ? "-" : status.rate_per_second);
  set("eta", status.eta_seconds === null ? "-" : status.eta_seconds + "s");
  for (const [name, n] of Object.entries(status.counts || {})) {
    const el = root.querySelector('[data-count="' + name + '"]');
    if (el) el.textContent = n;
  }
}

function follow(url, rootFor, expected, onDone) {
  const source = new EventSource(url);
  const ended = new Set();
  source.addEventListener("progress", (e) => {
    const status = JSON.parse(e.data);
    const root = rootFor(status.id);
    if (root) setProgress(root, status);
  });
  source.addEventListener("end", (e) => {
    ended.add(JSON.parse(e.data).id);
    // Every batch ended: the server closes the stream; stop EventSource reconnecting.
    // (A dropped connection before that is retried by EventSource itself.)
    if (ended.size >= expected) {
      source.close();
      if (onDone) onDone();
    }
  });
  return source;
}

document.addEventListener("DOMContentLoaded", () => {
  const batch = document.getElementById("batch");
  if (batch && batch.dataset.active === "true") {
    // When the batch ends, reload once: the domain table and the buttons change with it.
    follow("/v1/batches/" + batch.dataset.batch + "/events", () => batch, 1, () => {
      setTimeout(() => window.location.reload(), 300);
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
  for (const row of document.querySelectorAll("tr[data-href]")) {
    row.addEventListener("click", (e) => {
      if (e.target.tagName !== "A") window.location.href = row.dataset.href;
    });
  }
});
