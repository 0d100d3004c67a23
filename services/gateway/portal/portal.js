/* Passerelle web portal: calls the gateway's HTTP API from the browser (docs/portal.md).
   No framework and no external resource. Every text the professional reads is in French;
   every value from the API is inserted as text (textContent), never as HTML. */
"use strict";

const STEPS = ["connexion", "cgu", "patient", "consentement", "resultat", "prescriptions", "documents", "journal"];
const FLAGS = {
  NULL_FLAVOR: "valeur absente dans le document d'origine",
  UNKNOWN_CODE: "code absent du catalogue de traduction",
  UNKNOWN_CODE_SYSTEM: "système de codes inconnu",
  NO_CODE_SYSTEM: "système de codes non précisé",
  NOT_CODED: "texte libre, sans code",
  UNREADABLE_DATE: "date illisible",
  CURATED_LABEL: "libellé français rédigé par Passerelle (pas de traduction officielle)",
  DERIVED_LABEL: "libellé français déduit du libellé anglais par Passerelle (pas de traduction officielle)",
};
/** Flags of a translated value: its French label is Passerelle's own, not an official translation. */
const LABEL_KINDS = new Set(["CURATED_LABEL", "DERIVED_LABEL"]);
const STATEMENT_FLAGS = {
  UNRECOGNISED_STATEMENT: "élément de forme inconnue : voir le texte original de la rubrique",
  NO_SUBSTANCE: "aucune substance active lisible",
  SUBSTANCE_FROM_CLASS: "aucun ingrédient détaillé : substance lue dans la classe ATC du produit",
  NO_AGENT: "agent non précisé",
};
const SECTION_FLAGS = {
  NO_SECTION_CODE: "rubrique sans code",
  CODE_FROM_TEMPLATE: "rubrique reconnue par son modèle",
  UNKNOWN_SECTION: "rubrique inconnue",
  NO_TITLE: "rubrique sans titre",
  EMPTY: "rubrique vide",
  UNRECOGNISED_STATEMENTS: "éléments de forme inconnue",
};
const WARNINGS = {
  FHIR_INVALID: "Le document FHIR transmis n'est pas conforme : il est présenté tel quel.",
  NON_XML_BODY: "Le document transmis n'est pas structuré (corps non XML, par exemple un PDF) : consultez l'original.",
};
const DISPENSATION_STATES = {
  pending: "en cours d'envoi", waiting: "en attente de la délivrance précédente", submitted: "transmise au pays du patient",
  acknowledged: "enregistrée par le pays du patient", rejected: "refusée", discard_pending: "annulation en cours",
  discarded: "annulée",
};
const SETTLED = ["acknowledged", "rejected", "discarded"];

const state = {
  token: sessionStorage.getItem("passerelle.token"),
  termsAccepted: sessionStorage.getItem("passerelle.cgu") === "oui",
  countries: [],
  mask: null,
  patient: null, // {country, countryName, patientId, service}
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(step) {
  for (const name of STEPS) $(`etape-${name}`).hidden = name !== step;
  $("navigation").hidden = !state.token;
  const heading = $(`etape-${step}`).querySelector("h1");
  heading.tabIndex = -1;
  heading.focus();
}

function showError(message) {
  const box = $("erreur");
  box.textContent = message || "";
  box.hidden = !message;
}

/** The token's claims, for display only (the gateway verifies every call). */
function claims() {
  try {
    const payload = state.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(payload))));
  } catch (e) {
    return {};
  }
}
const isPharmacist = () => claims().profession === "21";
const canReadAudit = () => String(claims().scope || "").split(" ").includes("audit:read");

class ApiFailure extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `Erreur ${status} du service.`);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiFailure(0, { error: { message: "Passerelle est injoignable. Vérifiez votre connexion et réessayez." } });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) signOut(); // expired or refused token: sign in again (the message says why)
    throw new ApiFailure(response.status, data);
  }
  return { status: response.status, data };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(path, done, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  for (;;) {
    const { data } = await api("GET", path);
    if (done(data)) return data;
    if (Date.now() > deadline) throw new ApiFailure(0, { error: { message: "Le pays du patient n'a pas encore répondu. Réessayez dans quelques instants." } });
    await sleep(delay);
    delay = Math.min(delay * 1.5, 2000);
  }
}

/* ---------- sign-in, terms of use ---------- */

async function start() {
  const config = (await api("GET", "/portail/config")).data;
  $("form-connexion").hidden = !config.dev_sign_in;
  $("connexion-production").hidden = config.dev_sign_in;
  $("connexion-oidc").hidden = !config.oidc_sign_in;
  if (!state.token && new URLSearchParams(location.search).get("connexion") === "oidc") await takeOidcSession();
  if (!state.token) return show("connexion");
  renderIdentity();
  if (!state.termsAccepted) return show("cgu");
  await toPatientStep();
}

/** Back from Pro Santé Connect: the gateway hands the portal session over once (HttpOnly cookie → token). */
async function takeOidcSession() {
  history.replaceState(null, "", location.pathname);
  try {
    const { data } = await api("POST", "/portail/oidc/session");
    state.token = data.token;
    sessionStorage.setItem("passerelle.token", data.token);
  } catch (e) {
    showError(e.message);
  }
}

function renderIdentity() {
  const c = claims();
  $("identite").textContent = `RPPS ${c.sub || "?"}`;
  $("nav-journal").hidden = !canReadAudit();
}

function signOut() {
  state.token = null;
  state.termsAccepted = false;
  sessionStorage.removeItem("passerelle.token");
  sessionStorage.removeItem("passerelle.cgu");
  showError("");
  show("connexion");
}

$("form-connexion").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  try {
    const { data } = await api("POST", "/portail/dev-token", {
      rpps: $("rpps").value.trim(), profession: $("profession").value, audit_read: $("droit-journal").checked,
    });
    state.token = data.token;
    sessionStorage.setItem("passerelle.token", data.token);
    renderIdentity();
    show("cgu");
  } catch (e) {
    showError(e.message);
  }
});

$("form-cgu").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.termsAccepted = true;
  sessionStorage.setItem("passerelle.cgu", "oui");
  await toPatientStep();
});

/* ---------- country and search mask ---------- */

async function toPatientStep() {
  showError("");
  if (!state.countries.length) {
    state.countries = (await api("GET", "/v1/countries")).data;
    const select = $("pays");
    for (const country of state.countries) {
      select.append(el("option", { value: country.code, disabled: !country.services.length },
        country.services.length ? country.name : `${country.name} (pas encore connecté)`));
    }
  }
  show("patient");
}

const SERVICE_NAMES = { "patient-summary": "synthèse médicale", eprescription: "prescriptions électroniques",
  "original-documents": "documents d'origine", "laboratory-results": "résultats de biologie" };

$("pays").addEventListener("change", async () => {
  showError("");
  const code = $("pays").value;
  $("champs-identifiants").replaceChildren();
  $("identifiants").hidden = $("choix-service").hidden = true;
  $("rechercher").disabled = true;
  $("pays-services").textContent = "";
  state.mask = null;
  if (!code) return;
  try {
    state.mask = (await api("GET", `/v1/countries/${encodeURIComponent(code)}/identifiers`)).data;
  } catch (e) {
    return showError(e.message);
  }
  const mask = state.mask;
  $("pays-services").textContent = `Services proposés : ${mask.services.map((s) => SERVICE_NAMES[s] || s).join(", ") || "aucun"}.`;
  mask.identifiers.forEach((identifier, index) => {
    const id = `identifiant-${index}`;
    const hint = [identifier.hint, identifier.example ? `Exemple : ${identifier.example}` : null].filter(Boolean).join(" ");
    $("champs-identifiants").append(el("div", { class: "champ" },
      el("label", { for: id }, identifier.label, identifier.required ? " (obligatoire)" : " (facultatif)"),
      el("input", { id, name: id, required: identifier.required, pattern: identifier.format, autocomplete: "off",
        spellcheck: "false", "aria-describedby": `${id}-aide`, "data-key": identifier.key }),
      el("p", { class: "aide", id: `${id}-aide` }, hint)));
  });
  $("identifiants").hidden = mask.identifiers.length === 0;
  const offersSummary = mask.services.includes("patient-summary");
  const offersPrescriptions = mask.services.includes("eprescription") && isPharmacist();
  $("service-synthese").disabled = !offersSummary;
  $("ligne-prescriptions").hidden = !offersPrescriptions;
  $("ligne-journal").hidden = !canReadAudit();
  $("choix-service").hidden = false;
  const offersDocuments = offerDocuments(mask); // portal-documents.js
  const offersLab = offerLabResults(mask); // portal-documents.js
  const first = [offersSummary && "service-synthese", offersPrescriptions && "service-prescriptions",
    offersDocuments && "service-documents", offersLab && "service-biologie", canReadAudit() && "service-journal"].find(Boolean);
  if (first) $(first).checked = true;
  $("rechercher").disabled = mask.identifiers.length === 0 || !first;
  if (!mask.identifiers.length) showError("Ce pays ne publie pas encore de masque de recherche de patient.");
});

$("form-patient").addEventListener("submit", (event) => {
  event.preventDefault();
  showError("");
  const inputs = [...$("champs-identifiants").querySelectorAll("input")];
  const problems = [];
  inputs.forEach((input, index) => {
    input.dataset.touched = "oui";
    const identifier = state.mask.identifiers[index];
    const value = input.value.trim();
    const invalid = (identifier.required && !value) || (value && !new RegExp(`^(?:${identifier.format})$`).test(value));
    input.setAttribute("aria-invalid", invalid ? "true" : "false");
    if (invalid) problems.push(`${identifier.label} : ${value ? "format incorrect" : "obligatoire"}. ${identifier.hint || ""}`);
  });
  if (problems.length) {
    showError(problems.join(" "));
    inputs.find((i) => i.getAttribute("aria-invalid") === "true").focus();
    return;
  }
  const service = new FormData($("form-patient")).get("service");
  state.patient = { country: state.mask.code, countryName: state.mask.name, patientId: inputs[0].value.trim(), service };
  if (service === "audit") return showAccessLog();
  identifyPatient(inputs, service);
});

/* ---------- patient identification (step 1: country A says who the patient is) ---------- */

const IDENTIFICATION_STATES = {
  not_found: "Patient non trouvé.",
  several: "Plusieurs patients correspondent : précisez la recherche.",
  more_details_needed: "Le pays du patient demande d'autres données d'identification.",
  denied: "Recherche refusée.",
  failed: "La recherche n'a pas pu aboutir.",
};

/** Marks the fields country A asks for (several patients, or more demographics needed). */
function highlightFields(inputs, fields) {
  for (const input of inputs) {
    const wanted = fields.find((f) => f.key === input.dataset.key);
    const box = input.closest(".champ");
    box.classList.toggle("a-completer", Boolean(wanted));
    const note = box.querySelector(".note-a-completer");
    if (note) note.remove();
    if (wanted) {
      box.append(el("p", { class: "note-a-completer", id: `${input.id}-a-completer` },
        "À compléter : demandé par le pays du patient pour l'identifier."));
      input.setAttribute("aria-describedby", `${input.id}-aide ${input.id}-a-completer`);
    } else {
      input.setAttribute("aria-describedby", `${input.id}-aide`);
    }
  }
  const first = inputs.find((i) => fields.some((f) => f.key === i.dataset.key));
  if (first) first.focus();
}

async function identifyPatient(inputs, service) {
  const fields = Object.fromEntries(inputs.filter((i) => i.value.trim()).map((i) => [i.dataset.key, i.value.trim()]));
  const status = $("etat-identification");
  status.textContent = `Recherche du patient auprès de : ${state.mask.name}…`;
  $("rechercher").disabled = true;
  highlightFields(inputs, []);
  try {
    const accepted = (await api("POST", "/v1/patient-identifications", { country: state.mask.code, fields })).data;
    const answer = await poll(`/v1/patient-identifications/${accepted.identification_id}`, (d) => d.status !== "pending");
    if (answer.status !== "matched") {
      status.textContent = IDENTIFICATION_STATES[answer.status] || "";
      const toAdd = answer.fields.map((f) => f.label).join(", ");
      showError([answer.error ? answer.error.message : "", toAdd ? `À ajouter : ${toAdd}.` : ""].filter(Boolean).join(" "));
      highlightFields(inputs, answer.fields);
      return;
    }
    status.textContent = "";
    state.patient.patientId = answer.patient.patient_id;
    $("rappel-patient").textContent = `Patient identifié par son pays d'affiliation (${state.mask.name}) : identifiant ${state.patient.patientId} — ` +
      (service === "eprescription" ? "prescriptions à délivrer." :
        service === "original-documents" ? `documents d'origine : ${documentQuery().label}.` :
          service === "laboratory-results" ? "résultats de biologie." : "synthèse médicale.");
    $("consentement").checked = $("notice").checked = false;
    show("consentement");
  } catch (e) {
    status.textContent = "";
    showError(e.message);
  } finally {
    $("rechercher").disabled = false;
  }
}

$("retour-patient").addEventListener("click", () => show("patient"));

$("form-consentement").addEventListener("submit", (event) => {
  event.preventDefault();
  showError("");
  if (!$("consentement").checked || !$("notice").checked) {
    showError("Confirmez le consentement du patient et la remise de la note d'information.");
    return;
  }
  const purpose = $("motif").value;
  if (state.patient.service === "eprescription") listPrescriptions(purpose);
  else if (state.patient.service === "original-documents") listDocuments(purpose); // portal-documents.js
  else if (state.patient.service === "laboratory-results") listLabResults(purpose); // portal-documents.js
  else requestSummary(purpose);
});

/* ---------- Patient Summary ---------- */

async function requestSummary(purpose) {
  const { country, patientId } = state.patient;
  $("synthese").replaceChildren();
  $("etat-demande").textContent = "Demande transmise au pays du patient…";
  show("resultat");
  try {
    const accepted = (await api("POST", "/v1/patient-summaries", {
      country, patient_id: patientId, purpose,
      consent: { confirmed: true, information_notice_given: true },
    })).data;
    const answer = await poll(`/v1/patient-summaries/${accepted.request_id}`, (d) => d.status !== "pending");
    if (answer.status !== "completed") {
      $("etat-demande").textContent = answer.status === "denied" ? "Accès refusé." : "Le patient n'a pas pu être consulté.";
      showError(answer.error ? answer.error.message : "La demande n'a pas abouti.");
      return;
    }
    $("etat-demande").textContent = `Patient trouvé : synthèse médicale reçue de ${state.patient.countryName}.`;
    renderSummary(answer.summary);
  } catch (e) {
    $("etat-demande").textContent = "";
    showError(e.message);
  }
}

function renderSummary(summary) {
  const root = $("synthese");
  const translated = summary.coded_elements
    ? `${summary.translated_elements} élément(s) codé(s) traduit(s) sur ${summary.coded_elements}.` : "";
  root.append(el("p", {}, `Document ${summary.format}`, summary.source_language ? `, langue d'origine : ${summary.source_language}` : "",
    ". ", translated));
  for (const warning of summary.warnings || []) root.append(el("p", { class: "avertissement" }, WARNINGS[warning] || warning));
  if (!summary.translated) {
    root.append(el("p", { class: "avertissement" }, "Ce document n'a pas été traduit : il est présenté tel que transmis."));
  }
  for (const section of summary.sections) root.append(renderSection(section));
  if ((summary.missing_sections || []).length) {
    root.append(el("section", { class: "rubrique", "aria-labelledby": "titre-absentes" },
      el("h2", { id: "titre-absentes", class: "absente" }, "Rubriques obligatoires absentes du document"),
      el("ul", {}, summary.missing_sections.map((m) => el("li", {}, m.title)))));
  }
  root.append(renderOriginals(summary));
}

function renderSection(section) {
  const title = el("h2", {}, section.title);
  if (!section.title_translated) title.append(el("span", { class: "badge non-traduit" }, "titre non traduit"));
  for (const flag of section.flags || []) title.append(el("span", { class: "badge" }, SECTION_FLAGS[flag] || flag));
  const block = el("section", { class: "rubrique" }, title);
  if (section.original_title && section.original_title !== section.title) {
    block.append(el("p", { class: "original-texte" }, `Titre original : ${section.original_title}`));
  }
  const statements = section.statements || [];
  if (statements.length) block.append(renderStatements(statements));
  else if (!section.entries.length) block.append(el("p", {}, "Aucun élément codé dans cette rubrique."));
  if (section.original_narrative) {
    block.append(el("details", {}, el("summary", {}, "Afficher le texte original de la rubrique"),
      el("pre", { class: "original" }, section.original_narrative)));
  }
  if (section.entries.length) {
    const detail = statements.length
      ? el("details", { class: "elements-codes" }, el("summary", {}, `Afficher les ${section.entries.length} élément(s) codé(s) un par un`))
      : block;
    detail.append(renderEntries(section.entries));
    if (detail !== block) block.append(detail);
  }
  return block;
}

/** One row per clinical statement (a medication, an allergy...), one column per kind of value. */
function renderStatements(statements) {
  const columns = [];
  for (const statement of statements) {
    for (const field of statement.fields) {
      if (!columns.some((c) => c.name === field.name)) columns.push({ name: field.name, label: field.label });
    }
  }
  const rows = statements.map((statement) => {
    const byName = Object.fromEntries(statement.fields.map((f) => [f.name, f.values]));
    const untranslated = statement.fields.some((f) => f.values.some((v) => v.flag && !LABEL_KINDS.has(v.flag)));
    if (!columns.length) columns.push({ name: "-", label: "Élément" });
    const cells = columns.map((c) => el("td", { "data-champ": c.name }, (byName[c.name] || []).map(renderValue)));
    cells[0].append(...statement.flags.map((f) => el("span", { class: "badge signale" }, STATEMENT_FLAGS[f] || f)));
    const classes = ["ligne", untranslated ? "non-traduit" : null, statement.flags.length ? "signale" : null];
    return el("tr", { class: classes.filter(Boolean).join(" "), "data-nature": statement.kind }, cells);
  });
  return el("table", { class: "lignes" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)))),
    el("tbody", {}, rows));
}

/** A value: its French text, the text as sent when it differs, why it is not translated. */
function renderValue(value) {
  const block = el("div", { class: "valeur" }, value.display || "—");
  // the text as sent, unless it is only the sent form of a date or a number
  if (value.original && value.original !== value.display && !/^[\d\s.,:+\-–T]+$/.test(value.original)) {
    block.append(el("span", { class: "original-texte" }, ` (original : ${value.original})`));
  }
  if (value.flag && LABEL_KINDS.has(value.flag)) {
    block.append(el("span", { class: "badge libelle-passerelle" }, FLAGS[value.flag]));
  } else if (value.flag) {
    block.append(el("span", { class: "badge non-traduit" }, "Non traduit", ` — ${FLAGS[value.flag] || value.flag}`));
  }
  if (value.explanation) block.append(el("p", { class: "aide" }, value.explanation));
  return block;
}

function renderEntries(entries) {
  const rows = entries.map((entry) => {
    const status = entry.translated
      ? el("span", { class: "ok" }, "traduit", entry.flag ? ` — ${FLAGS[entry.flag] || entry.flag}` : "")
      : el("span", { class: "badge non-traduit" }, "Non traduit", entry.flag ? ` — ${FLAGS[entry.flag] || entry.flag}` : "");
    return el("tr", { class: entry.translated ? null : "non-traduit" },
      el("td", {}, entry.display || "—", entry.explanation ? el("p", { class: "aide" }, entry.explanation) : null),
      el("td", {}, entry.original || "—"),
      el("td", {}, entry.code ? `${entry.code.code}` : "—"),
      el("td", {}, status));
  });
  return el("table", {},
    el("thead", {}, el("tr", {}, ["Élément (en français)", "Texte original", "Code", "Traduction"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

/** Links to the document as country A sent it, and to its PDF when it carries one. */
function renderOriginals(summary) {
  const links = el("p", { class: "liens" });
  const type = summary.document.content_type;
  const extension = type.includes("json") ? "json" : "xml";
  links.append(el("a", { href: URL.createObjectURL(new Blob([summary.document.content], { type })),
    download: `document-original.${extension}` }, `Télécharger le document original (${summary.format})`));
  for (const pdf of pdfsOf(summary.document.content, type)) {
    links.append(el("a", { href: URL.createObjectURL(pdf), target: "_blank", rel: "noopener", class: "pdf" },
      "Ouvrir le PDF original transmis par le pays du patient"));
  }
  return el("section", { class: "rubrique", "aria-labelledby": "titre-originaux" },
    el("h2", { id: "titre-originaux" }, "Documents originaux"), links);
}

function base64Blob(text, type) {
  const bytes = atob(text.replace(/\s+/g, ""));
  const array = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) array[i] = bytes.charCodeAt(i);
  return new Blob([array], { type });
}

/** PDFs embedded in a CDA (nonXMLBody or observationMedia, mediaType application/pdf, base64)
    or a FHIR document (an attachment or Binary with contentType application/pdf). */
function pdfsOf(content, contentType) {
  const found = [];
  try {
    if (contentType.includes("json")) {
      const walk = (node) => {
        if (!node || typeof node !== "object") return;
        if (node.contentType === "application/pdf" && typeof node.data === "string") found.push(base64Blob(node.data, "application/pdf"));
        Object.values(node).forEach(walk);
      };
      walk(JSON.parse(content));
    } else {
      const xml = new DOMParser().parseFromString(content, "application/xml");
      for (const node of xml.querySelectorAll("[mediaType='application/pdf']")) {
        if (node.textContent.trim()) found.push(base64Blob(node.textContent, "application/pdf"));
      }
    }
  } catch (e) {
    return found; // an unreadable attachment: the original document link remains
  }
  return found;
}

/* ---------- ePrescription / eDispensation ---------- */

/** The query string every listing of the patient's data takes (the gateway's PatientListingQuery):
 * the patient, the consent confirmed on the previous step, the purpose, and how long to wait. */
function listingQuery(purpose, extra = {}) {
  const { country, patientId } = state.patient;
  return new URLSearchParams({ country, patient_id: patientId, ...extra, consent_confirmed: "true",
    information_notice_given: "true", purpose, wait: "15" });
}

async function listPrescriptions(purpose) {
  $("prescriptions").replaceChildren();
  $("etat-prescriptions").textContent = "Demande des prescriptions au pays du patient…";
  show("prescriptions");
  const query = listingQuery(purpose);
  try {
    let { data } = await api("GET", `/v1/prescriptions?${query}`);
    if (data.status === "pending") {
      data = await poll(`/v1/prescriptions/requests/${data.request_id}`, (d) => d.status !== "pending");
    }
    if (data.status !== "completed") {
      $("etat-prescriptions").textContent = "Les prescriptions n'ont pas pu être consultées.";
      showError(data.error ? data.error.message : "La demande n'a pas abouti.");
      return;
    }
    $("etat-prescriptions").textContent = `${data.prescriptions.length} prescription(s) reçue(s) de ${state.patient.countryName}.`;
    data.prescriptions.forEach((p, index) => $("prescriptions").append(renderPrescription(p, index)));
  } catch (e) {
    $("etat-prescriptions").textContent = "";
    showError(e.message);
  }
}

function term(t) {
  if (!t || !t.display) return el("span", { class: "absente" }, "non précisé");
  return el("span", {}, t.display, t.translated ? "" : el("span", { class: "badge non-traduit" }, "Non traduit"),
    t.translated && t.original && t.original !== t.display ? el("span", { class: "original-texte" }, ` (${t.original})`) : "");
}

/* The substances of a product (or part): each with its strength; a plain warning when none is readable. */
function substances(ingredients, missing) {
  if (!ingredients.length) return el("p", { class: "substances absente" }, missing || "Aucune substance active lisible.");
  return el("ul", { class: "substances" }, ingredients.map((i) =>
    el("li", {}, term(i), i.strength ? ` ${i.strength}` : "")));
}

function productCell(item) {
  const cell = el("td", {}, term(item.product));
  if (item.strength) cell.append(el("p", { class: "aide" }, `Dosage du produit : ${item.strength}`));
  if (item.product_class) cell.append(el("p", { class: "aide" }, "Classe : ", term(item.product_class)));
  if (!item.parts.length) {
    cell.append(substances(item.active_ingredients, item.substances_missing));
    return cell;
  }
  item.parts.forEach((part, n) => cell.append(el("div", { class: "partie" },
    el("p", {}, `Partie ${n + 1}${part.name ? ` — ${part.name}` : ""} : `, term(part.dose_form),
      part.quantity ? ` (${part.quantity})` : ""),
    substances(part.active_ingredients, null))));
  if (!item.active_ingredients.length) cell.append(el("p", { class: "absente" }, item.substances_missing));
  return cell;
}

/* The dosage in French; the prescriber's free text is part of it, in its own language and marked so. */
function dosageCell(item) {
  if (item.dosage) return el("td", {}, item.dosage);
  if (item.dosage_instructions) {
    return el("td", {}, "Texte du prescripteur (non traduit) : ", el("q", {}, item.dosage_instructions));
  }
  return el("td", {}, el("span", { class: "absente" }, "Posologie non indiquée."));
}

function packageCell(item) {
  return el("td", {}, String(item.quantity), " × ", term(item.package), item.package_size ? ` de ${item.package_size}` : "");
}

function prescriberLine(prescription) {
  const p = prescription.prescriber;
  const who = p ? [p.name, p.profession && p.profession.display, p.organisation, p.country].filter(Boolean).join(", ") : "";
  return el("p", { class: "prescripteur" },
    `Prescripteur : ${who || "non indiqué"}. Rédigée le ${frenchDate(prescription.authored_at) || "date non indiquée"}` +
    (prescription.valid_until ? `, valable jusqu'au ${frenchDate(prescription.valid_until)}.` : "."));
}

function frenchDate(iso) {
  return iso ? iso.split("-").reverse().join("/") : "";
}

function renderPrescription(prescription, index) {
  const block = el("section", { class: "rubrique prescription", "aria-labelledby": `titre-prescription-${index}` },
    el("h2", { id: `titre-prescription-${index}` }, `Prescription ${prescription.prescription_id}`),
    prescriberLine(prescription));
  const form = el("form", { class: "delivrance", "aria-label": `Délivrance de la prescription ${prescription.prescription_id}` });
  const rows = prescription.items.map((item, line) => {
    const id = `p${index}-l${line}`;
    const quantity = el("input", { type: "number", id: `${id}-quantite`, min: "0", max: String(item.quantity), value: "0",
      disabled: !item.dispensable, "data-item": item.item_id });
    const substitution = el("select", { id: `${id}-substitution`, disabled: !item.dispensable || !item.substitution_allowed },
      el("option", { value: "" }, "Aucune"), el("option", { value: "G" }, "Générique (G)"),
      el("option", { value: "TE" }, "Équivalent thérapeutique (TE)"));
    return el("tr", {},
      productCell(item),
      el("td", {}, item.parts.length ? "voir chaque partie" : term(item.dose_form), " — ", term(item.route)),
      dosageCell(item),
      packageCell(item),
      el("td", {}, item.dispensable ? "oui" : el("span", { class: "absente" }, "non délivrable")),
      el("td", {}, el("label", { for: quantity.id }, "Quantité à délivrer"), quantity),
      el("td", {}, el("label", { for: substitution.id }, "Substitution"), substitution,
        item.substitution_allowed ? "" : el("p", { class: "aide" }, "non autorisée")));
  });
  form.append(el("table", {},
    el("thead", {}, el("tr", {}, ["Produit et substances", "Forme et voie", "Posologie", "Quantité prescrite", "Délivrable", "Délivrer", "Substitution"]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows)));
  const status = el("p", { role: "status", "aria-live": "polite", class: "etat-delivrance" });
  form.append(el("button", { type: "submit", disabled: !prescription.items.some((i) => i.dispensable) }, "Enregistrer la délivrance"), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    dispense(prescription, form, status);
  });
  block.append(form);
  return block;
}

async function dispense(prescription, form, status) {
  showError("");
  const lines = [...form.querySelectorAll("input[type=number]")]
    .filter((input) => !input.disabled && Number(input.value) > 0)
    .map((input) => {
      const substitution = $(input.id.replace("-quantite", "-substitution")).value;
      return { item_id: input.dataset.item, quantity: Number(input.value), ...(substitution ? { substitution } : {}) };
    });
  if (!lines.length) {
    showError("Indiquez la quantité délivrée d'au moins une ligne.");
    return;
  }
  status.textContent = "Délivrance transmise…";
  try {
    const { dispensation_id: id } = (await api("POST", "/v1/dispensations", {
      country: state.patient.country, patient_id: state.patient.patientId,
      prescription_id: prescription.prescription_id, lines,
    })).data;
    const settled = await poll(`/v1/dispensations/${id}`, (d) => SETTLED.includes(d.status)).catch(async (e) => {
      if (e.status === 404) return poll(`/v1/dispensations/${id}`, (d) => SETTLED.includes(d.status));
      throw e;
    });
    status.textContent = `Délivrance ${DISPENSATION_STATES[settled.status] || settled.status}` +
      (settled.error ? ` : ${settled.error.message}` : ".");
  } catch (e) {
    status.textContent = "";
    showError(e.message);
  }
}

/* ---------- access log ---------- */

const ACCESS_HEADINGS = { accessed_at: "Date (heure de Paris)", rpps: "RPPS", profession: "Profession", organisation: "Structure",
  point_of_care: "Lieu de soins", purpose: "Motif", action: "Action", request_id: "Demande", documents: "Documents" };

let accessLogAsked = 0; // only the latest request's answer is shown (a second click replaces the first)

async function showAccessLog() {
  const { country, patientId } = state.patient;
  const asked = ++accessLogAsked;
  $("journal").replaceChildren();
  $("etat-journal").textContent = `Accès aux données du patient ${patientId} (${state.patient.countryName})…`;
  show("journal");
  try {
    const { data } = await api("GET", `/v1/audit/accesses?${new URLSearchParams({ country, patient_id: patientId })}`);
    if (asked !== accessLogAsked) return;
    $("etat-journal").textContent = `${data.accesses.length} accès enregistré(s) aux données de ce patient.`;
    if (!data.accesses.length) return;
    const columns = Object.keys(data.accesses[0]);
    $("journal").replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, ACCESS_HEADINGS[c] || c)))),
      el("tbody", {}, data.accesses.map((a) => el("tr", {}, columns.map((c) => el("td", {}, cell(a[c], c))))))));
  } catch (e) {
    $("etat-journal").textContent = "";
    showError(e.message);
  }
}

/** French words for the codes the access log holds; an unknown code is shown as it is. */
const ACCESS_LABELS = {
  purpose: { TREATMENT: "Traitement", EMERGENCY: "Urgence" },
  profession: Object.fromEntries([...document.querySelectorAll("#profession option")].map((o) => [o.value, o.textContent])),
  action: { PS_OUTCOME: "Synthèse médicale consultée", EP_OUTCOME: "Prescriptions consultées",
    ORCD_OUTCOME: "Documents d'origine consultés", LAB_RESULTS_OUTCOME: "Résultats de biologie consultés" },
};
const PARIS_TIME = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "medium", timeZone: "Europe/Paris" });

function cell(value, column) {
  if (value === null || value === undefined) return "—";
  if (column === "accessed_at") return PARIS_TIME.format(new Date(value));
  if (ACCESS_LABELS[column] && ACCESS_LABELS[column][value]) return `${ACCESS_LABELS[column][value]} (${value})`;
  if (column === "documents") return value.length ? value.map((d) => `${documentTypeName(d.document_type)} ${d.document_id}`).join(" ; ") : "—";
  if (typeof value === "object") return Object.values(value).filter((v) => v !== null).join(" · ");
  return String(value);
}

/* ---------- navigation ---------- */

$("nav-recherche").addEventListener("click", () => toPatientStep());
$("nav-deconnexion").addEventListener("click", () => signOut());
$("nav-journal").addEventListener("click", () => {
  showError("");
  if (state.patient) showAccessLog();
  else {
    toPatientStep();
    showError("Choisissez d'abord le patient, puis le service « Journal des accès ».");
  }
});

window.passerellePortal = { pdfsOf }; // for the browser tests
start().catch((e) => showError(e.message));
