"""The web portal in a real browser: Debian's Chromium, headless, driven by Playwright against the
whole system as ``make run`` starts it (this module's own ``passerelle up``). A physician signs in,
accepts the terms, searches a Portuguese patient (identified by country A: one patient, none, several
then one once the birth date asked for is added, or more demographics needed), confirms consent and
reads the summary in French;
a pharmacist dispenses a Finnish prescription; a security officer reads the access log. Every page
is saved as a screenshot under test-artifacts/portal/. Any request leaving the gateway fails the test
(the portal uses no external resource)."""

from __future__ import annotations

import os
import re
import time
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from passerelle import PROJECT_ROOT
from passerelle.testing import RunningSystem
from tests.e2e.browser import guarded_page
from tests.oidc_provider import ProviderDouble, psc_user

pytestmark = pytest.mark.e2e
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "portal"
PHYSICIAN, PHARMACIST = "10001234565", "10002000007"  # data/rpps-dev.yaml
PT_PATIENT = "193857264"  # data/ncp/PT: a full Patient Summary in Portuguese
FI_PATIENT = "140772-946S"  # data/ncp/FI: two prescriptions
FI_PARTS_PATIENT = "150363-998K"  # data/ncp/FI: three ingredients by name, two parts, no readable substance
SHARED_PT = "402113658"  # data/ncp/PT: a parent's número de utente, a child filed under it too
GR_PATIENT = "23044903575"  # data/ncp/GR: Greece asks for the birth date with the AMKA


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def unlabelled_fields(page: Page) -> list[str]:
    """Visible inputs and selects without a label (a <label for>, or an enclosing one)."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter((f) => f.offsetParent !== null && f.labels.length === 0).map((f) => f.id || f.name)""")


def sign_in(page: Page, rpps: str, profession: str, audit: bool = False) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Numéro RPPS").fill(rpps)
    page.get_by_label("Profession").select_option(profession)
    if audit:
        page.get_by_label(re.compile("journal des accès")).check()
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Conditions générales d'utilisation")).to_be_visible()
    page.get_by_role("button", name="Continuer").click()  # refused by the browser until accepted
    expect(page.get_by_role("heading", name="Conditions générales d'utilisation")).to_be_visible()
    page.get_by_label(re.compile("j'accepte les conditions")).check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Identification du patient")).to_be_visible()


def search(page: Page, country: str, identifier_label: str, patient_id: str, service: str | None = None) -> None:
    page.get_by_label("Pays d'affiliation du patient").select_option(label=country)
    field = page.get_by_label(re.compile(identifier_label))
    expect(field).to_be_visible()
    field.fill(patient_id)
    if service:
        page.get_by_label(service).check()
    assert unlabelled_fields(page) == []
    page.get_by_role("button", name="Rechercher le patient").click()


def confirm_consent(page: Page) -> None:
    expect(page.get_by_role("heading", name="Consentement et information du patient")).to_be_visible()
    page.get_by_label(re.compile("Le patient consent")).check()
    page.get_by_label(re.compile("note d'information")).check()
    page.get_by_role("button", name="Confirmer et consulter").click()


def test_a_physician_signs_in_searches_confirms_consent_and_reads_the_summary_in_french(page):
    sign_in(page, PHYSICIAN, "10")
    shot(page, "01-recherche")
    page.get_by_label("Pays d'affiliation du patient").select_option(label="Portugal")
    hint = page.locator("#identifiant-0-aide")
    expect(hint).to_contain_text("9 chiffres")
    page.get_by_label(re.compile("Número de utente")).fill("12AB")  # refused by the published format
    page.get_by_role("button", name="Rechercher le patient").click()
    expect(page.get_by_role("alert")).to_contain_text("format incorrect")
    expect(page.get_by_role("heading", name="Identification du patient")).to_be_visible()

    page.get_by_label(re.compile("Número de utente")).fill(PT_PATIENT)
    page.get_by_role("button", name="Rechercher le patient").click()
    expect(page.locator("#rappel-patient")).to_contain_text("Portugal")
    page.get_by_role("button", name="Confirmer et consulter").click()  # consent not yet confirmed
    expect(page.get_by_role("heading", name="Consentement et information du patient")).to_be_visible()
    # keyboard only: tab to each box, space to tick it, Enter on the button
    page.get_by_label(re.compile("Le patient consent")).focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    shot(page, "02-consentement")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status").first).to_contain_text("synthèse médicale reçue")
    sections = page.locator("#synthese section.rubrique h2")
    assert sections.count() >= 4
    expect(page.get_by_role("heading", name=re.compile("Allergies"))).to_be_visible()
    assert page.locator("#synthese td").filter(has_text=re.compile("[A-Za-zÀ-ÿ]{4}")).count() > 0
    flagged = page.locator("tr.non-traduit")
    assert flagged.count() > 0  # this summary has untranslated elements: each is flagged
    expect(flagged.first.locator(".badge.non-traduit")).to_contain_text("Non traduit")
    original = page.locator("details").first
    expect(original.locator("pre")).to_be_hidden()
    original.locator("summary").click()
    expect(original.locator("pre")).to_be_visible()
    assert len(original.locator("pre").inner_text()) > 20
    expect(page.get_by_role("link", name=re.compile("document original"))).to_be_visible()
    shot(page, "03-synthese")


def test_a_patient_that_country_a_does_not_know_gets_the_french_not_found(page):
    sign_in(page, PHYSICIAN, "10")
    search(page, "Portugal", "Número de utente", "000000000")
    expect(page.get_by_role("alert")).to_contain_text("Aucun patient ne correspond")
    expect(page.locator("#etat-identification")).to_contain_text("Patient non trouvé")
    expect(page.get_by_role("heading", name="Identification du patient")).to_be_visible()  # no consent step
    shot(page, "04-patient-inconnu")


def test_several_patients_then_the_birth_date_asked_for_identifies_one_and_the_summary_follows(page):
    """A número de utente under which Portugal files a parent and a child: "several", the birth date
    field highlighted, filled, one patient matched, consent, the summary."""
    sign_in(page, PHYSICIAN, "10")
    search(page, "Portugal", "Número de utente", SHARED_PT)
    expect(page.get_by_role("alert")).to_contain_text("Plusieurs patients correspondent")
    expect(page.get_by_role("alert")).to_contain_text("À ajouter : Data de nascimento")
    expect(page.locator("#etat-identification")).to_contain_text("Plusieurs patients")
    birth_date = page.get_by_label(re.compile("date de naissance"))
    expect(birth_date).to_be_focused()  # the field to add, highlighted and explained
    expect(page.locator(".champ.a-completer")).to_have_count(1)
    expect(page.locator(".champ.a-completer")).to_contain_text("À compléter")
    assert "1979" not in page.content() and "2019" not in page.content()  # nothing of either patient shown
    shot(page, "08-plusieurs-patients")

    birth_date.fill("1979-05-21")
    page.get_by_role("button", name="Rechercher le patient").click()
    expect(page.locator("#rappel-patient")).to_contain_text(f"identifiant {SHARED_PT}")
    shot(page, "09-patient-identifie")
    confirm_consent(page)
    expect(page.get_by_role("status").first).to_contain_text("synthèse médicale reçue")
    expect(page.get_by_role("heading", name=re.compile("Allergies"))).to_be_visible()


def test_a_country_that_needs_more_demographics_gets_its_fields_highlighted(page):
    sign_in(page, PHYSICIAN, "10")
    search(page, "Grèce", "AMKA", GR_PATIENT)
    expect(page.get_by_role("alert")).to_contain_text("demande d'autres données d'identification")
    highlighted = page.locator(".champ.a-completer")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_contain_text("Date de naissance")
    shot(page, "10-donnees-demandees")
    page.get_by_label(re.compile("Date de naissance")).fill("1949-04-23")
    page.get_by_role("button", name="Rechercher le patient").click()
    expect(page.locator("#rappel-patient")).to_contain_text(f"identifiant {GR_PATIENT}")
    expect(page.locator(".champ.a-completer")).to_have_count(0)


def test_a_pharmacist_lists_a_finnish_patients_prescriptions_and_dispenses(page):
    sign_in(page, PHARMACIST, "21")
    search(page, "Finlande", "Henkilötunnus", FI_PATIENT, service="Prescriptions à délivrer (pharmacien)")
    confirm_consent(page)
    expect(page.locator("#etat-prescriptions")).to_contain_text("2 prescription(s)")
    assert unlabelled_fields(page) == []
    prescription = page.locator("section.prescription").filter(has_text="FI-EP-1001")
    expect(prescription).to_contain_text("metformine")
    expect(prescription).to_contain_text("Comprimé")
    suspended = page.locator("section.prescription").filter(has_text="FI-EP-1002")
    expect(suspended).to_contain_text("non délivrable")
    prescription.get_by_label("Quantité à délivrer").first.fill("1")
    shot(page, "05-prescriptions")
    prescription.get_by_role("button", name="Enregistrer la délivrance").click()
    expect(prescription.get_by_role("status")).to_contain_text("enregistrée par le pays du patient")
    prescription.get_by_label("Quantité à délivrer").first.fill("3")  # prescribed 3, 1 given: more than remains
    prescription.get_by_role("button", name="Enregistrer la délivrance").click()
    expect(prescription.get_by_role("status")).to_contain_text("refusée : La quantité délivrée dépasse")
    shot(page, "06-delivrance")


def test_a_pharmacist_sees_each_part_every_substance_and_when_none_can_be_read(page):
    sign_in(page, PHARMACIST, "21")
    search(page, "Finlande", "Henkilötunnus", FI_PARTS_PATIENT, service="Prescriptions à délivrer (pharmacien)")
    confirm_consent(page)
    expect(page.locator("#etat-prescriptions")).to_contain_text("3 prescription(s)")
    three = page.locator("section.prescription").filter(has_text="FI-EP-5003")
    for name in ("perindopriiliarginiini", "indapamidi", "amlodipiinibesilaatti", "Dosage du produit : 10 mg/2,5 mg/5 mg"):
        expect(three).to_contain_text(name)
    expect(three).to_contain_text("Prescripteur : Testi Lääkäri")
    two_parts = page.locator("section.prescription").filter(has_text="FI-EP-5004")
    expect(two_parts.locator(".partie")).to_have_count(2)
    expect(two_parts.locator(".partie").first).to_contain_text("500 mg")
    expect(two_parts.locator(".partie").last).to_contain_text("10 mg/g")
    expect(two_parts).to_contain_text("(en fi-FI, non traduite)")
    unreadable = page.locator("section.prescription").filter(has_text="FI-EP-5005")
    expect(unreadable).to_contain_text("Aucune substance active lisible")
    expect(unreadable).to_contain_text("voie intraveineuse")
    shot(page, "07-prescriptions-completes")


def read_summary_over_the_api(system, patient_id: str) -> None:
    """One access to the patient's data (so this test stands alone), by the physician, over the API."""
    auth = {"Authorization": f"Bearer {system.token(PHYSICIAN, '10')}"}
    body = {"country": "PT", "patient_id": patient_id, "consent": {"confirmed": True, "information_notice_given": True}}
    request_id = httpx.post(f"{system.url}/v1/patient-summaries", json=body, headers=auth, timeout=10).json()["request_id"]
    deadline = time.monotonic() + 20
    while httpx.get(f"{system.url}/v1/patient-summaries/{request_id}", headers=auth, timeout=10).json()["status"] == "pending":
        assert time.monotonic() < deadline, "the summary did not come back"
        time.sleep(0.1)


def test_the_access_log_lists_who_read_the_patients_data(page, system):
    read_summary_over_the_api(system, PT_PATIENT)
    sign_in(page, PHYSICIAN, "10", audit=True)
    page.get_by_label("Pays d'affiliation du patient").select_option(label="Portugal")
    page.get_by_label(re.compile("Número de utente")).fill(PT_PATIENT)
    page.get_by_label("Journal des accès aux données de ce patient").check()
    page.get_by_role("button", name="Rechercher le patient").click()
    deadline = time.monotonic() + 20  # the audit trail is written asynchronously: wait for the first read
    while time.monotonic() < deadline and page.locator("#journal tbody tr").count() == 0:
        page.get_by_role("button", name="Journal des accès").click()
        page.wait_for_timeout(300)
    expect(page.locator("#etat-journal")).to_contain_text("accès enregistré")
    page.get_by_role("button", name="Journal des accès").dblclick()  # twice at once: one table, the latest answer
    expect(page.locator("#etat-journal")).to_contain_text("accès enregistré")
    page.wait_for_load_state("networkidle")
    assert page.locator("#journal table").count() == 1
    rows = page.locator("#journal tbody tr")
    assert rows.count() >= 1
    expect(rows.first).to_contain_text(PHYSICIAN)
    expect(rows.first).to_contain_text("Traitement")
    expect(rows.first).to_contain_text("Médecin")
    shot(page, "07-journal")


def test_a_refused_professional_reads_why_in_french_and_signing_out_forgets_the_session(page):
    sign_in(page, "10002000056", "10")  # occupational physician: excluded by data/professions.yaml
    search(page, "Portugal", "Número de utente", PT_PATIENT)  # refused at identification already
    expect(page.get_by_role("alert")).to_contain_text("médecine du travail")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_pdf_sent_by_country_a_is_offered(page, system):
    """The portal finds the PDF a CDA carries (nonXMLBody) or a FHIR attachment, in the browser."""
    page.goto("/")
    pdf = "JVBERi0xLjQKJcOkw7zDtsOfCg=="  # "%PDF-1.4 ..." in base64
    cda = ('<ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody>'
           f'<text mediaType="application/pdf" representation="B64">{pdf}</text></nonXMLBody></component></ClinicalDocument>')
    fhir = '{"resourceType": "Bundle", "entry": [{"resource": {"content": [{"attachment": {"contentType": "application/pdf", "data": "%s"}}]}}]}' % pdf
    found = page.evaluate("""async ([cda, fhir]) => {
        const read = async (blobs) => Promise.all(blobs.map(async (b) => [b.type, (await b.text()).slice(0, 8)]));
        return [await read(passerellePortal.pdfsOf(cda, "application/xml")),
                await read(passerellePortal.pdfsOf(fhir, "application/fhir+json")),
                await read(passerellePortal.pdfsOf("<ClinicalDocument/>", "application/xml"))]; }""", [cda, fhir])
    assert found == [[["application/pdf", "%PDF-1.4"]], [["application/pdf", "%PDF-1.4"]], []]


# ---- sign-in with Pro Santé Connect (its test double, tests/oidc_provider.py) -------------------------

@pytest.fixture(scope="module")
def psc_system(tmp_path_factory):
    """The whole system with the portal's OpenID Connect sign-in configured for the provider double."""
    provider = ProviderDouble().start()
    running = RunningSystem(tmp_path_factory.mktemp("psc"), os.environ.get("PASSERELLE_TEST_BOOTSTRAP"),
                            PASSERELLE_LOG_FORMAT="json", PASSERELLE_PORTAL__OIDC__ISSUER=provider.issuer,
                            PASSERELLE_PORTAL__OIDC__CLIENT_ID=provider.client_id,
                            PASSERELLE_PORTAL__OIDC__CLIENT_SECRET=provider.client_secret)
    provider.redirect_uris.append(f"{running.url}/portail/oidc/callback")  # as registered with the provider
    try:
        yield running.wait_ready(), provider
    finally:
        if running.process.poll() is None:
            running.interrupt()
        provider.stop()


@pytest.fixture
def psc_page(browser, psc_system):
    """A fresh context on that system; requests may go to the gateway and the provider, nowhere else."""
    system, provider = psc_system
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with guarded_page(browser, system.url, {urlsplit(provider.issuer).netloc}) as opened:
        yield opened, provider


def test_a_physician_signs_in_with_pro_sante_connect_and_reaches_the_country_choice(psc_page):
    page, provider = psc_page
    provider.user = psc_user(PHYSICIAN)
    page.goto("/")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    psc = page.get_by_role("link", name="Se connecter avec Pro Santé Connect")
    expect(psc).to_be_visible()
    shot(page, "08-connexion-psc")
    psc.click()  # → provider (answers at once) → callback → the portal, which takes its session
    expect(page.get_by_role("heading", name="Conditions générales d'utilisation")).to_be_visible()
    assert "connexion=" not in page.url  # the hand-over leaves nothing in the address bar
    expect(page.locator("#identite")).to_have_text(f"RPPS {PHYSICIAN}")
    page.get_by_label(re.compile("j'accepte les conditions")).check()
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Identification du patient")).to_be_visible()
    countries = page.get_by_label("Pays d'affiliation du patient")
    countries.select_option(label="Portugal")  # the country list came from the API with the PSC session
    expect(page.get_by_label(re.compile("Número de utente"))).to_be_visible()
    assert provider.authorizations[-1]["code_challenge_method"] == "S256"
    shot(page, "09-psc-pays")

    provider.user = psc_user("10002000056")  # an occupational physician: refused, in French, with the code
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    expect(page.get_by_role("heading", name="Connexion refusée")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("médecine du travail")
    expect(page.locator("#code-erreur")).to_have_text("PROFESSION_ACTIVITY_EXCLUDED")
    shot(page, "10-psc-refus")
