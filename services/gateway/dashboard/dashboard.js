// Polls GET /v1/operations/stream-stats with the operator's token and redraws the tables; no
// external resource, no page reload. The token stays in this tab (sessionStorage).
"use strict";
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);
// The page is in French; the stable codes stay visible where operators search logs with them.
const SERVICE_LABELS = { patient_summary: "Synthèse patient", eprescription: "ePrescription" };
const OUTCOME_LABELS = { COMPLETED: "terminée", DENIED: "refusée", FAILED: "en échec" };
const label = (labels, code) => labels[code] || code;
const fmt = (n, digits = 0) => (n === null || n === undefined) ? "—" :
  Number(n).toLocaleString("fr-FR", { maximumFractionDigits: digits });

function fill(table, head, rows) {
  table.replaceChildren();
  const tr = table.insertRow();
  head.forEach((h) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = h; tr.appendChild(th); });
  if (!rows.length) { const r = table.insertRow(); const c = r.insertCell(); c.colSpan = head.length; c.textContent = "Aucune donnée"; }
  rows.forEach((row) => {
    const r = table.insertRow();
    row.forEach((v) => {
      const c = r.insertCell();
      c.textContent = (typeof v === "number" || v === null || v === undefined) ? fmt(v, 2) : v;
      if (typeof v === "number") c.className = "n";
    });
  });
}

function draw(s) {
  fill($("topics"), ["Topic", "Événements", "Par seconde"],
    Object.entries(s.topics).map(([t, v]) => [t, v.events, v.per_second]));
  fill($("lag"), ["Groupe", "Topic", "Retard"],
    Object.entries(s.consumer_lag).flatMap(([g, topics]) => Object.entries(topics).map(([t, n]) => [g, t, n])));
  fill($("outcomes"), ["Service", "Issue", "Nombre"],
    Object.entries(s.requests_by_outcome).flatMap(([svc, c]) =>
      Object.entries(c).map(([k, n]) => [label(SERVICE_LABELS, svc), label(OUTCOME_LABELS, k), n])));
  fill($("denials"), ["Service", "Motif (code)", "Nombre"],
    Object.entries(s.denials_by_reason).flatMap(([svc, c]) =>
      Object.entries(c).map(([k, n]) => [label(SERVICE_LABELS, svc), k, n])));
  fill($("countries"), ["Pays", "Demandes", "Réponses", "Couverture de traduction", "Délai moyen (ms)", "p50 (ms)", "p95 (ms)"],
    Object.entries(s.countries).map(([code, c]) => [code, c.requests, c.outcomes,
      c.coverage === null ? "—" : fmt(100 * c.coverage, 1) + " %", c.latency_ms.mean, c.latency_ms.p50, c.latency_ms.p95]));
}

let timer = null;
function stopPolling() {
  if (timer) { clearInterval(timer); timer = null; }
}

async function refresh() {
  const token = sessionStorage.getItem("passerelle-ops-token");
  if (!token) return;
  try {
    const resp = await fetch("/v1/operations/stream-stats", { headers: { Authorization: "Bearer " + token } });
    const body = await resp.json();
    if (resp.status === 401 || resp.status === 403) {
      // A refused token stays refused: stop asking (each refusal is audited) and ask for another.
      sessionStorage.removeItem("passerelle-ops-token");
      stopPolling();
      $("figures").hidden = true;
      $("token").focus();
    }
    if (!resp.ok) throw new Error(body.error ? body.error.message : resp.statusText);
    draw(body);
    $("figures").hidden = false;
    $("status").className = "";
    $("status").textContent = "Mis à jour à " + new Date(body.generated_at * 1000).toLocaleTimeString("fr-FR") +
      " (débits sur " + fmt(body.rate_window_seconds) + " s).";
  } catch (err) {
    $("status").className = "error";
    $("status").textContent = "Erreur : " + err.message;
  }
}

$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("passerelle-ops-token", $("token").value.trim());
  $("token").value = "";
  stopPolling();
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
});
if (sessionStorage.getItem("passerelle-ops-token")) { refresh(); timer = setInterval(refresh, REFRESH_MS); }
