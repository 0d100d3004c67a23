"""The portal's original clinical documents in Chromium, against the whole system (``passerelle up``):
a physician asks Portugal for a patient's laboratory reports, reads the French header of each, sees
the originals Passerelle refused marked, and opens an accepted one (a PDF, from a Blob of the checked
media type); the access log then names the documents. Finland, which serves laboratory reports only,
offers no other type."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.test_portal_browser import PHYSICIAN, PT_PATIENT, confirm_consent, shot, sign_in, unlabelled_fields

pytestmark = pytest.mark.e2e


def find_patient(page) -> None:
    """The country and service already chosen: the identifier, then the search."""
    page.get_by_label(re.compile("Número de utente")).fill(PT_PATIENT)
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Rechercher le patient").click()


def access_log_rows_naming(page, document_id: str):
    """The access log's rows naming ``document_id``, once the audit trail (written asynchronously)
    holds one, the log being read again for up to 20 s."""
    deadline = time.monotonic() + 20
    page.get_by_role("button", name="Journal des accès").click()
    named = page.locator("#journal tbody tr").filter(has_text=document_id)
    while time.monotonic() < deadline and named.count() == 0:
        page.get_by_role("button", name="Journal des accès").click()
        page.wait_for_timeout(300)
    return named


def test_a_physician_lists_laboratory_reports_opens_an_original_and_sees_the_refused_ones(page):
    sign_in(page, PHYSICIAN, "10")
    page.get_by_label("Pays d'affiliation du patient").select_option(label="Portugal")
    expect(page.locator("#pays-services")).to_contain_text("documents d'origine")
    page.get_by_role("radio", name=re.compile("Documents d'origine")).check()
    page.get_by_label("Type de document").select_option(label="Compte rendu d'examens biologiques")
    find_patient(page)
    expect(page.locator("#rappel-patient")).to_contain_text("compte rendu d'examens biologiques")
    confirm_consent(page)
    expect(page.locator("#etat-documents")).to_contain_text("4 document(s) reçu(s) de Portugal")
    rows = page.locator("#documents table.documents tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(2)).to_contain_text("portugais (Portugal)")
    expect(rows.nth(2)).to_contain_text("Inês Carvalho, Hospital de Santa Maria")
    expect(rows.nth(2)).to_contain_text("2 mars 2026")
    refused = page.locator("#documents tr.refuse")
    expect(refused).to_have_count(2)
    expect(refused.nth(1)).to_contain_text("ne correspond pas au type annoncé")
    expect(refused.nth(0)).to_contain_text("ni un PDF ni une image")
    expect(page.locator("section.resultats-labo")).to_have_count(0)  # structured results: a service of their own
    shot(page, "11-documents-origine")
    with page.expect_response(re.compile(r"/documents/2$")) as served, page.expect_popup() as popup:
        rows.nth(2).get_by_role("button", name="Ouvrir l'original (PDF)").click()
    response = served.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff" and "sandbox" in response.headers["content-security-policy"]
    assert response.body().startswith(b"%PDF-")
    popup.value.close()
    saved = rows.nth(2).get_by_role("link", name="Enregistrer l'original")
    expect(saved).to_have_attribute("href", re.compile("^blob:"))


def test_a_country_serving_laboratory_reports_only_offers_only_them(page):
    sign_in(page, PHYSICIAN, "10")
    page.get_by_label("Pays d'affiliation du patient").select_option(label="Finlande")
    expect(page.locator("#pays-services")).not_to_contain_text("résultats de biologie")
    expect(page.get_by_role("radio", name=re.compile("Résultats de biologie"))).to_have_count(0)  # not joined
    page.get_by_role("radio", name=re.compile("Documents d'origine")).check()
    options = page.get_by_label("Type de document").locator("option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("Compte rendu d'examens biologiques")


def test_laboratory_results_in_french_marked_by_severity_and_named_in_the_access_log(page):
    sign_in(page, PHYSICIAN, "10", audit=True)
    page.get_by_label("Pays d'affiliation du patient").select_option(label="Portugal")
    expect(page.locator("#pays-services")).to_contain_text("résultats de biologie")
    page.get_by_role("radio", name=re.compile("Résultats de biologie")).check()
    find_patient(page)
    expect(page.locator("#rappel-patient")).to_contain_text("résultats de biologie")
    confirm_consent(page)
    expect(page.locator("#etat-documents")).to_contain_text("1 compte(s) rendu(s) de biologie reçu(s) de Portugal")
    expect(page.locator("#titre-documents")).to_have_text("Résultats de biologie du patient")
    expect(page.locator("section.resultats-labo p").first).to_contain_text(
        "Prélèvement : 10 février 2026 (Blood specimen, non traduit)")
    results = page.locator("section.resultats-labo tbody tr")
    expect(results).to_have_count(5)
    expect(results.nth(0)).to_contain_text("Hémoglobine [Masse/Volume] Sang")
    expect(results.nth(0)).to_contain_text("10,9 g/dl (g/dL)")  # the unit the French way, the one sent beside it
    expect(results.nth(0).locator(".badge.severite-bas")).to_have_text("bas")
    expect(page.locator("section.resultats-labo tr.severite-critique")).to_have_count(1)
    expect(results.nth(1).locator(".badge.severite-critique")).to_have_text("critique")
    expect(results.nth(1)).to_contain_text("Potassium [Moles/Volume] Sérum/Plasma")
    expect(results.nth(1).locator(".libelle-passerelle")).to_contain_text("rédigé par Passerelle")
    expect(results.nth(2)).to_contain_text("pas de valeurs de référence transmises")
    expect(results.nth(3)).to_contain_text("unité non reconnue")
    expect(results.nth(4)).to_contain_text("Doseamento de vitamina D (método local)")
    expect(results.nth(4)).to_contain_text("Non traduit")
    expect(page.locator("section.resultats-labo .entete-labo")).to_contain_text("193857264-LAB-FHIR-1")
    shot(page, "13-resultats-biologie")
    named = access_log_rows_naming(page, "193857264-LAB-FHIR-1")
    expect(named.first).to_contain_text("Résultats de biologie consultés")
    expect(named.first).to_contain_text("Compte rendu d'examens biologiques")


def test_the_access_log_names_the_documents_listed(page):
    sign_in(page, PHYSICIAN, "10", audit=True)
    page.get_by_label("Pays d'affiliation du patient").select_option(label="Portugal")
    page.get_by_role("radio", name=re.compile("Documents d'origine")).check()
    page.get_by_label("Type de document").select_option(label="Compte rendu de sortie d'hospitalisation")
    find_patient(page)
    confirm_consent(page)
    expect(page.locator("#etat-documents")).to_contain_text("1 document(s) reçu(s)")
    named = access_log_rows_naming(page, "193857264-HDR-1")
    expect(named.first).to_contain_text("Documents d'origine consultés")
    expect(named.first).to_contain_text("Compte rendu de sortie d'hospitalisation")
    shot(page, "12-journal-documents")
