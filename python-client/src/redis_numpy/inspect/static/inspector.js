// The list page's live INFO numpy gauges, and client-side sort and filter of
// the rows on the page. Plain JavaScript: the inspector loads nothing from the
// network but its own server.
"use strict";

const POLL_MS = 2000;

function humanBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function showGauge(el, value) {
  el.dataset.raw = String(value);
  el.textContent = el.dataset.kind === "bytes" ? humanBytes(value) : value.toLocaleString("en-US");
  el.title = String(value);
}

function startGauges() {
  const gauges = document.querySelectorAll("[data-gauge]");
  if (!gauges.length) return;
  const banner = document.getElementById("banner");
  const live = document.getElementById("live");
  const rate = document.getElementById("command-rate");
  let last = null;
  gauges.forEach((el) => { const v = Number(el.textContent); if (!Number.isNaN(v)) showGauge(el, v); });
  async function poll() {
    try {
      const response = await fetch("api/stats", { cache: "no-store" });
      const body = await response.json();
      if (!body.ok) throw new Error(body.error);
      gauges.forEach((el) => { if (el.dataset.gauge in body.stats) showGauge(el, body.stats[el.dataset.gauge]); });
      const now = performance.now();
      if (last && rate) {
        const perSecond = (body.stats.numpy_commands - last.commands) / ((now - last.t) / 1000);
        rate.textContent = `${Math.max(0, perSecond).toFixed(1)} commands/s`;
      }
      last = { t: now, commands: body.stats.numpy_commands };
      banner.hidden = true;
      live.classList.remove("stale");
      live.textContent = "live";
    } catch (err) {
      banner.textContent = String(err.message || err);
      banner.hidden = false;
      live.classList.add("stale");
      live.textContent = "disconnected";
    }
  }
  poll();
  setInterval(poll, POLL_MS);
}

function startTable() {
  const table = document.querySelector("table.sortable");
  if (!table) return;
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, column) => {
    th.addEventListener("click", () => {
      const descending = th.getAttribute("aria-sort") === "ascending";
      headers.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      const numeric = th.dataset.type === "num";
      const value = (row) => row.cells[column].dataset.value;
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = value(a), y = value(b);
        const order = numeric ? Number(x) - Number(y) : x.localeCompare(y, "en", { numeric: true });
        return descending ? -order : order;
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
  const filter = document.getElementById("filter");
  const count = document.getElementById("row-count");
  if (!filter) return;
  filter.addEventListener("input", () => {
    const needle = filter.value.trim().toLowerCase();
    let shown = 0;
    Array.from(body.rows).forEach((row) => {
      const text = `${row.cells[0].dataset.value} ${row.cells[1].dataset.value} ${row.cells[2].dataset.value}`.toLowerCase();
      row.hidden = needle !== "" && !text.includes(needle);
      if (!row.hidden) shown++;
    });
    count.textContent = String(shown);
  });
}

startGauges();
startTable();
