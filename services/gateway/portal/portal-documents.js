/* Passerelle web portal: original clinical documents (issue 23, docs/original-documents.md).
   Loaded after portal.js, whose helpers (el, $, api, poll, show, showError, state) it uses.
   Each original is fetched with the professional's token and opened from a Blob of the media type
   the gateway checked (PDF or image): never inserted into the page as HTML. */
"use strict";

const DOCUMENT_TYPES = {
  "11502-2": "Compte rendu d'examens biologiques",
  "18748-4": "Compte rendu d'imagerie médicale",
  "34105-7": "Compte rendu de sortie d'hospitalisation",
  "x-clinical-image": "Images médicales",
};

function documentTypeName(code) {
  return DOCUMENT_TYPES[code] || code;
}

/** Shows the service and its document types when the country has joined it; true if offered. */
function offerDocuments(mask) {
  const types = mask.services.includes("original-documents")
    ? (mask.document_types["original-documents"] || Object.keys(DOCUMENT_TYPES)) : [];
  $("ligne-documents").hidden = $("criteres-documents").hidden = types.length === 0;
  $("type-document").replaceChildren(...types.map((code) => el("option", { value: code }, documentTypeName(code))));
  return types.length > 0;
}

/** Shows the laboratory-results service when the country has joined it; true if offered. */
function offerLabResults(mask) {
  const offered = mask.services.includes("laboratory-results");
  $("ligne-biologie").hidden = !offered;
  return offered;
}

function documentQuery() {
  const code = $("type-document").value;
  return { code, label: documentTypeName(code).toLowerCase(), start: $("periode-debut").value, end: $("periode-fin").value };
}

/** Asks ``base`` (an original-documents or laboratory-results listing) and follows it until it ends;
 * the completed listing, or null when it did not complete (the error is shown). */
async function fetchListing(base, query) {
  let { data } = await api("GET", `${base}?${query}`);
  if (data.status === "pending") {
    data = await poll(`${base}/requests/${data.request_id}`, (d) => d.status !== "pending");
  }
  if (data.status === "completed") return data;
  $("etat-documents").textContent = "Les documents n'ont pas pu être consultés.";
  showError(data.error ? data.error.message : "La demande n'a pas abouti.");
  return null;
}

async function listLabResults(purpose) {
  $("titre-documents").textContent = "Résultats de biologie du patient";
  $("documents").replaceChildren();
  $("etat-documents").textContent = "Demande des résultats de biologie au pays du patient…";
  show("documents");
  const query = listingQuery(purpose);
  try {
    const data = await fetchListing("/v1/laboratory-results", query);
    if (!data) return;
    $("etat-documents").textContent = `${data.documents.length} compte(s) rendu(s) de biologie reçu(s) de ${state.patient.countryName}.`;
    data.documents.forEach((d) => $("documents").append(d.laboratory ? labReport(d) : documentsTable([d])));
  } catch (e) {
    $("etat-documents").textContent = "";
    showError(e.message);
  }
}

async function listDocuments(purpose) {
  const wanted = documentQuery();
  $("titre-documents").textContent = "Documents d'origine du patient";
  $("documents").replaceChildren();
  $("etat-documents").textContent = "Demande des documents au pays du patient…";
  show("documents");
  const query = listingQuery(purpose, { document_type: wanted.code });
  if (wanted.start) query.set("period_start", wanted.start);
  if (wanted.end) query.set("period_end", wanted.end);
  try {
    const data = await fetchListing("/v1/original-documents", query);
    if (!data) return;
    $("etat-documents").textContent = `${data.documents.length} document(s) reçu(s) de ${state.patient.countryName}.`;
    if (data.documents.length) $("documents").append(documentsTable(data.documents));
    data.documents.filter((d) => d.laboratory).forEach((d) => $("documents").append(labReport(d)));
  } catch (e) {
    $("etat-documents").textContent = "";
    showError(e.message);
  }
}

const DAY = new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeZone: "UTC" });

function day(iso) {
  return iso ? DAY.format(new Date(iso.slice(0, 10))) : "—";
}

function documentsTable(documents) {
  const headings = ["Type", "Titre (original)", "Date des soins", "Auteur et structure", "Pays", "Langue", "Document"];
  return el("table", { class: "documents" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, documents.map((d) => el("tr", { class: d.original.available ? "" : "refuse" },
      el("td", {}, term(d.document_type)),
      el("td", {}, d.title || "—"),
      el("td", {}, day(d.service_end || d.service_start || d.created_at)),
      el("td", {}, [d.author, d.organisation].filter(Boolean).join(", ") || "—"),
      el("td", {}, d.country.display || "—"),
      el("td", {}, d.language.display || "—"),
      el("td", {}, originalCell(d))))));
}

/* ---------- structured laboratory results ---------- */

const SEVERITY_CLASSES = { critical: "critique", high: "eleve", low: "bas", abnormal: "anormal", normal: "normal" };

const UNIT_LABELS = {
  CURATED_LABEL: "unité écrite à la française par Passerelle (table de Passerelle, pas de traduction officielle)",
  DERIVED_LABEL: "unité écrite à la française par Passerelle (règle de Passerelle, pas de traduction officielle)",
};

function amountText(q) {
  if (!q) return "";
  const number = q.value === null ? "" : new Intl.NumberFormat("fr-FR").format(q.value);
  return [q.comparator, number, q.unit].filter(Boolean).join(" ");
}

/** A value and its unit the French way, the unit as sent beside it when it differs (and how it was written). */
function amount(q) {
  if (!q) return "";
  const sent = q.unit_original && q.unit_original !== q.unit
    ? el("span", { class: "original-texte unite-originale", title: UNIT_LABELS[q.unit_label] || "unité telle que transmise" },
      ` (${q.unit_original})`) : "";
  return el("span", {}, amountText(q), sent);
}

function resultValue(r) {
  if (r.value_kind === "quantity") return amount(r.value_quantity);
  if (r.value_kind === "coded") return labTerm(r.value_term);
  return r.value_text || "—";
}

function ranges(r) {
  if (!r.reference_ranges.length) return "—";
  return r.reference_ranges.map((x) => x.text || [x.low && `≥ ${amountText(x.low)}`, x.high && `≤ ${amountText(x.high)}`]
    .filter(Boolean).join(" et ")).join(" ; ");
}

/** A test or coded result: the French label beside the one sent, and a mark when Passerelle wrote it. */
function labTerm(t) {
  if (!t) return "—";
  return el("span", {}, term(t), LABEL_KINDS.has(t.label) ? el("span", { class: "badge libelle-passerelle" }, FLAGS[t.label]) : "");
}

/** The kinds of specimen the results were measured on, once each (French beside the label sent). */
function specimens(lab) {
  const name = (t) => (!t.translated ? `${t.display}, non traduit`
    : t.original && t.original !== t.display ? `${t.display} (${t.original})` : t.display);
  const names = [...new Set(lab.results.filter((r) => r.specimen && r.specimen.display).map((r) => name(r.specimen)))];
  return names.length ? ` (${names.join(", ")})` : "";
}

function labReport(d) {
  const id = `labo-${d.index}`;
  const lab = d.laboratory;
  const rows = lab.results.map((r) => el("tr", { class: r.severity ? `severite-${SEVERITY_CLASSES[r.severity]}` : "" },
    el("th", { scope: "row" }, labTerm(r.test)),
    el("td", {}, resultValue(r)),
    el("td", {}, ranges(r)),
    el("td", {}, r.severity_label ? el("span", { class: `badge severite-${SEVERITY_CLASSES[r.severity]}` }, r.severity_label) : "—",
      r.interpretation.map((i) => el("span", { class: "original-texte" }, ` (${i.original || i.code})`))),
    el("td", {}, r.flags.length ? el("ul", { class: "signalements" }, r.flags.map((f) => el("li", {}, f.label))) : "—")));
  return el("section", { class: "rubrique resultats-labo", "aria-labelledby": id },
    el("h2", { id }, `Résultats de biologie — ${lab.laboratory || d.organisation || "laboratoire non précisé"}`),
    el("p", {}, `Prélèvement : ${day(lab.effective)}${specimens(lab)} — compte rendu du ${day(lab.issued)}. ` +
      "Résultats tels que transmis, libellés français à côté de l'original."),
    el("p", { class: "entete-labo" }, `Document ${d.document_id} — ${d.country.display || "pays non précisé"}, ` +
      `langue de l'original : ${d.language.display || "non précisée"}. `, originalCell(d)),
    el("table", {},
      el("thead", {}, el("tr", {}, ["Examen", "Résultat", "Valeurs de référence", "Interprétation", "Signalements"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

function originalCell(d) {
  if (!d.original.available) {
    return el("span", {}, el("span", { class: "badge refuse" }, "Non transmis"), " ", d.original.refusal.message);
  }
  const kind = { "application/pdf": "PDF", "application/fhir+json": "FHIR" }[d.original.media_type] || "image";
  const button = el("button", { type: "button", class: "secondaire" }, `Ouvrir l'original (${kind})`);
  button.addEventListener("click", () => openOriginal(d, button));
  return button;
}

async function openOriginal(d, button) {
  showError("");
  try {
    const response = await fetch(d.original.href, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new ApiFailure(response.status, data);
    }
    const blob = new Blob([await response.arrayBuffer()], { type: d.original.media_type });
    const link = el("a", { href: URL.createObjectURL(blob), target: "_blank", rel: "noopener", class: "original",
      download: `${d.document_type.code}-${d.index + 1}.${{ "application/pdf": "pdf", "application/fhir+json": "json" }[d.original.media_type] || "img"}` },
    "Enregistrer l'original");
    button.replaceWith(link);
    if (d.original.media_type !== "application/fhir+json") window.open(link.href, "_blank", "noopener");
  } catch (e) {
    showError(e.message);
  }
}
