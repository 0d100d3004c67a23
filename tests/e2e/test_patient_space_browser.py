"""The patient space in a real browser (Debian's Chromium, headless) against the whole system as
``passerelle up`` starts it, with a FranceConnect-like provider and an SMTP server on loopback: a
doctor in Germany reads Camille's summary (``passerelle abroad``); she gets the e-mail, signs in
with the keyboard alone, sees the access, masks the newer of her two syntheses (the next request
from abroad gets the older one), opposes cross-border access, and the next request from abroad is
refused. The page passes axe-core's automated accessibility check (vendored, served from
this repository: nothing is fetched)."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from passerelle import PROJECT_ROOT
from passerelle.testing import RunningSystem
from tests.integration.test_patient_space import france_connect_user
from tests.oidc_provider import ProviderDouble
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.e2e
AXE = PROJECT_ROOT / "tests" / "e2e" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "patient"
CAMILLE = "286037505604238"


@pytest.fixture(scope="module")
def patient_system(tmp_path_factory):
    provider = ProviderDouble(client_id="passerelle-patient").start()
    with smtp_server() as (mailbox, port):
        running = RunningSystem(
            tmp_path_factory.mktemp("patient"), os.environ.get("PASSERELLE_TEST_BOOTSTRAP"),
            PASSERELLE_LOG_FORMAT="json", PASSERELLE_PATIENT__OIDC__ISSUER=provider.issuer,
            PASSERELLE_PATIENT__OIDC__CLIENT_ID=provider.client_id,
            PASSERELLE_PATIENT__OIDC__CLIENT_SECRET=provider.client_secret,
            PASSERELLE_NOTIFICATIONS__SMTP_HOST="127.0.0.1", PASSERELLE_NOTIFICATIONS__SMTP_PORT=str(port))
        provider.redirect_uris.append(f"{running.url}/patient/retour")
        try:
            yield running.wait_ready(), provider, mailbox
        finally:
            if running.process.poll() is None:
                running.interrupt()
            provider.stop()


def abroad_summary(system) -> subprocess.CompletedProcess:
    return subprocess.run([system.bin / "passerelle", "abroad", "summary", "--country", "DE", "--ins", CAMILLE,
                           "--gateway", system.url], env=system.env, capture_output=True, text=True, timeout=60)


def tab_to(page, control) -> None:
    """Tab until ``control`` has the focus, as a keyboard user would."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if control.evaluate("(b) => b === document.activeElement"):
            break
    expect(control).to_be_focused()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text())
    return page.evaluate("""async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}))
        .violations.map((v) => ({id: v.id, nodes: v.nodes.map((n) => n.target)}))""")


def test_informed_by_mail_then_keyboard_only_sign_in_history_masking_and_opposition(patient_system, browser):
    system, provider, mailbox = patient_system
    assert abroad_summary(system).returncode == 0
    mailbox.wait(lambda box: len(box.messages) >= 1)  # the notice is stored before the e-mail goes
    assert mailbox.messages[0]["To"] == "camille.durand@example.org"
    provider.user = france_connect_user()
    hosts = {urlsplit(system.url).netloc, urlsplit(provider.issuer).netloc}
    # bypass_csp: lets the test inject axe-core into the page; the page itself loads no script.
    context = browser.new_context(locale="fr-FR", base_url=system.url, bypass_csp=True)
    outside = []
    context.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).netloc in hosts
                  else (outside.append(route.request.url), route.abort()))
    page = context.new_page()
    try:
        page.goto("/patient/")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        assert axe_violations(page) == []
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="S'identifier avec FranceConnect")).to_be_focused()
        page.keyboard.press("Enter")  # → provider (answers at once) → /patient/retour → /patient/
        expect(page.get_by_role("heading", name="Mon espace patient")).to_be_visible()
        expect(page.get_by_role("table")).to_contain_text("Allemagne")
        expect(page.get_by_role("table")).to_contain_text("synthèse médicale")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "01-historique.png"), full_page=True)
        assert axe_violations(page) == []
        mask = page.get_by_role("button", name="Masquer : Synthèse médicale du 20/10/2025 (Cabinet du Dr Marchand)")
        tab_to(page, mask)
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Le document est masqué")
        expect(page.get_by_role("button", name="Ne plus masquer : Synthèse médicale du 20/10/2025 (Cabinet du Dr Marchand)")
               ).to_be_visible()
        masked = abroad_summary(system)  # the next request from abroad: the older synthèse, never the masked one
        assert masked.returncode == 0 and "VSM-2860375056042-2-PIVOT" in masked.stdout
        assert "VSM-2860375056042-1" not in masked.stdout
        oppose = page.get_by_role("button", name="M'opposer à l'accès depuis l'étranger")
        tab_to(page, oppose)
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Votre opposition est enregistrée")
        page.screenshot(path=str(ARTIFACTS / "02-opposition.png"), full_page=True)
        assert axe_violations(page) == []
    finally:
        context.close()
    assert outside == []
    refused = abroad_summary(system)
    assert refused.returncode == 1 and refused.stderr.startswith("ERROR_NO_CONSENT")
    log = system.log.read_text()  # every process's log: no patient name or identifier
    assert "DURAND" not in log.upper() and CAMILLE not in log and CAMILLE[:13] not in log and "camille" not in log.lower()
