"""The portal shows a summary a clinician can read (issue 17, item 8), in Debian's Chromium, on real
published documents (tests/fixtures/corpus) served by the foreign-NCP simulator: one row per
medication, allergy, problem, vaccination, procedure and device, French beside the text as sent,
untranslated values flagged, no concern act shown as a finding."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from playwright.sync_api import expect

from passerelle import PROJECT_ROOT
from passerelle.testing import RunningSystem
from tests.conftest import FIXTURES
from tests.e2e.browser import guarded_page
from tests.e2e.test_portal_browser import PHYSICIAN, confirm_consent, search, shot, sign_in

pytestmark = pytest.mark.e2e
CORPUS = FIXTURES / "corpus"
#: (country, patient id the simulator files it under, corpus document)
SERVED = [("PT", "900000017", "cda-ps/gematik__NCPeH-Simulation-API__Patient_Summary_CDA3.xml"),
          ("PT", "900000025", "cda-ps/Sundhedsdatastyrelsen__ehdsi__PT_CDA_W3_898765392_HipReplacement.xml"),
          ("NL", "900000033", "fhir-ips/hl7-eu__gravitate-health-ips__Bundle-gravitate-Alicia.json")]


@pytest.fixture(scope="module")
def corpus_system(tmp_path_factory):
    """The whole system, its foreign-NCP simulator also serving three real corpus documents."""
    ncp = tmp_path_factory.mktemp("ncp")
    shutil.copytree(PROJECT_ROOT / "data" / "ncp", ncp, dirs_exist_ok=True)
    for country, patient, source in SERVED:
        (ncp / country / patient).mkdir(parents=True)
        shutil.copy(CORPUS / source, ncp / country / patient / ("ps.json" if source.endswith(".json") else "ps.xml"))
    running = RunningSystem(tmp_path_factory.mktemp("corpus-system"), os.environ.get("PASSERELLE_TEST_BOOTSTRAP"),
                            PASSERELLE_LOG_FORMAT="json", PASSERELLE_NCP_DATA=str(ncp))
    try:
        yield running.wait_ready()
    finally:
        if running.process.poll() is None:
            running.interrupt()


@pytest.fixture
def corpus_page(browser, corpus_system):
    with guarded_page(browser, corpus_system.url) as opened:
        yield opened


def open_summary(page, country: str, label: str, patient: str) -> None:
    sign_in(page, PHYSICIAN, "10")
    search(page, country, label, patient)
    confirm_consent(page)
    expect(page.get_by_role("status").first).to_contain_text("synthèse médicale reçue")


def section(page, title: str):
    return page.locator("#synthese section.rubrique").filter(has=page.get_by_role("heading", name=re.compile(title)))


def test_a_current_format_summary_shows_one_row_per_allergy_and_medication(corpus_page):
    page = corpus_page
    open_summary(page, "Portugal", "Número de utente", "900000017")  # gematik, urn:hl7-org:pharm
    allergies = section(page, "Allergies").locator("table.lignes tbody tr")
    expect(allergies).to_have_count(4)
    assert page.locator('tr[data-nature="ALLERGY"]').count() == 4
    header = section(page, "Allergies").locator("table.lignes thead")
    for column in ("Agent", "Réaction", "Sévérité", "Statut"):
        expect(header).to_contain_text(column)
    latex = allergies.filter(has_text="Latex")
    expect(latex.locator('td[data-champ="reaction"]')).to_contain_text("Urticaire")
    expect(latex.locator('td[data-champ="onset"]')).to_have_text("10/01/1990")
    rows_text = " ".join(page.locator("table.lignes").all_inner_texts())
    assert "Concern" not in rows_text and "Préoccupation" not in rows_text  # the concern act is no finding
    medications = section(page, "médicamenteuse").locator("table.lignes tbody tr")
    expect(medications).to_have_count(2)
    expect(medications.first.locator('td[data-champ="form"]')).to_contain_text("Comprimé")
    expect(medications.first.locator('td[data-champ="product"] .badge.non-traduit')).to_contain_text("Non traduit")
    expect(medications.first.locator('td[data-champ="product_class"]')).to_contain_text("80MG")
    expect(medications.first.locator(".badge.signale")).to_contain_text("classe ATC du produit")
    coded = section(page, "Allergies").locator("details.elements-codes")
    expect(coded.locator("table")).to_be_hidden()  # the element-by-element list stays one click away
    shot(page, "20-lignes-pharm")


def test_an_epsos_era_summary_keeps_free_text_dosage_as_written(corpus_page):
    page = corpus_page
    open_summary(page, "Portugal", "Número de utente", "900000025")  # urn:epsos-org:ep:medication
    medications = section(page, "médicamenteuse").locator("table.lignes tbody tr")
    expect(medications).to_have_count(4)
    ramipril = medications.filter(has_text="ramipril")
    expect(ramipril.locator('td[data-champ="substance"]')).to_contain_text("ramipril 10 mg")
    expect(ramipril.locator('td[data-champ="dosage"]')).to_contain_text("non traduite")
    expect(ramipril.locator('td[data-champ="dosage"]')).to_contain_text("8 em 8 horas")
    expect(section(page, "Vaccinations").locator("table.lignes tbody tr")).to_have_count(19)
    shot(page, "21-lignes-epsos")


def test_a_fhir_ips_shows_substances_with_their_strength(corpus_page):
    page = corpus_page
    open_summary(page, "Pays-Bas", "BSN", "900000033")
    medications = section(page, "médicamenteuse").locator("table.lignes tbody tr")
    expect(medications).to_have_count(6)
    first = medications.first.locator('td[data-champ="substance"] .valeur')
    expect(first).to_have_count(3)
    expect(first.first).to_contain_text("bictegravir 30 mg")
    route = medications.first.locator('td[data-champ="route"]')
    expect(route).to_contain_text("Voie orale")
    expect(route.locator(".original-texte")).to_have_text(" (original : Oral use)")  # French beside the text as sent
    problems = section(page, "problèmes").locator("table.lignes tbody tr")
    expect(problems).to_have_count(4)
    shot(page, "22-lignes-fhir")
