"""Monitoring of the whole system as ``make run`` starts it (this module's own ``passerelle up``):
every worker serves its own Prometheus metrics on its own port, listed at start-up; the stream
dashboard, in Debian's Chromium (headless, Playwright), updates without reload while requests go
through the API, and a token without ``ops:read`` is refused and stops the polling. Screenshots go
to test-artifacts/dashboard/."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from prometheus_client.parser import text_string_to_metric_families

from passerelle import PROJECT_ROOT
from passerelle.crossborder import dev_key, sign_assertion
from passerelle.metrics_ports import TARGETS_FILE
from passerelle.settings import Settings
from system.supervisor import WORKERS
from passerelle.tokens import mint
from tests.country_a_flow import CAMILLE, DOCTOR

pytestmark = pytest.mark.e2e
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "dashboard"
PHYSICIAN, PHARMACIST, OPERATOR = "10001234565", "10002000007", "10009999995"  # data/rpps-dev.yaml
PS = "Synthèse patient"  # how the page names the Patient Summary service


def token(system, rpps: str, profession: str, scope: str | None = None) -> str:
    """A development token signed with this system's key (as ``passerelle token`` makes, in process)."""
    settings = Settings(state_dir=Path(system.env["PASSERELLE_STATE_DIR"]))
    return mint(settings.state_dir, settings.tokens, rpps, profession, "750000001", scope=scope)


def summary_request(system, token: str, country: str = "PT", patient_id: str = "193857264",
                    confirmed: bool = True, notice: bool = True) -> str:
    body = {"country": country, "patient_id": patient_id, "purpose": "TREATMENT",
            "consent": {"confirmed": confirmed, "information_notice_given": notice}}
    answer = httpx.post(f"{system.url}/v1/patient-summaries", json=body, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text
    return answer.json()["request_id"]


def wait_outcome(system, token: str, request_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{system.url}/v1/patient-summaries/{request_id}", timeout=10,
                           headers={"Authorization": f"Bearer {token}"}).json()["status"]
        if status != "pending":
            return status
        time.sleep(0.2)
    raise TimeoutError(request_id)


def consumed_by_service(url: str) -> dict[str, float]:
    """``passerelle_events_consumed_total`` of one metrics endpoint, summed per ``service`` label."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for sample in family.samples:
            if sample.name == "passerelle_events_consumed_total":
                service = sample.labels["service"]
                totals[service] = totals.get(service, 0.0) + sample.value
    return totals


def test_every_worker_serves_its_own_metrics_on_its_own_port_listed_at_start_up(system):
    targets = json.loads((Path(system.env["PASSERELLE_STATE_DIR"]) / TARGETS_FILE).read_text())
    ports = {group["labels"]["service"]: group["targets"][0] for group in targets}
    assert set(ports) == set(WORKERS)
    assert len(set(ports.values())) == len(WORKERS)  # one port each
    log = system.log.read_text()
    for name, target in ports.items():  # the start-up log line lists them too
        assert f"{target}/metrics" in log, name

    physician = token(system, PHYSICIAN, "10")
    assert wait_outcome(system, physician, summary_request(system, physician)) == "completed"
    pharmacist = token(system, PHARMACIST, "21")
    listing = httpx.get(f"{system.url}/v1/prescriptions", timeout=30, headers={"Authorization": f"Bearer {pharmacist}"},
                        params={"country": "FI", "patient_id": "140772-946S", "consent_confirmed": "true",
                                "information_notice_given": "true"})
    assert listing.status_code in (200, 202), listing.text
    # France as country A: a doctor in Germany reads a French patient's summary (the country-a worker's traffic)
    assertion = sign_assertion(dev_key("de-dev-2026"), "de-dev-2026", "DE", DOCTOR, "TREATMENT", CAMILLE)
    abroad = httpx.post(f"{system.url}/ncp/v1/patient-summaries", timeout=30,
                        json={"requesting_country": "DE", "patient": {"ins": CAMILLE}, "assertion": assertion})
    assert abroad.status_code == 200, abroad.status_code

    workers = [name for name in WORKERS if name != "gateway"]
    deadline = time.monotonic() + 30
    while True:
        seen = {name: consumed_by_service(f"http://{ports[name]}/metrics") for name in workers}
        if all(seen[name].get(name, 0) > 0 for name in workers) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for name in workers:
        assert set(seen[name]) == {name}, f"{name}'s port serves {sorted(seen[name])}"  # its own counters only
        assert seen[name][name] > 0, name
    store = httpx.get(f"http://{ports['audit-store']}/metrics", timeout=5).text
    assert re.search(r"^passerelle_audit_records_stored_total [1-9]", store, re.M)  # the store's own counter
    gateway = httpx.get(f"http://{ports['gateway']}/metrics", timeout=5).text
    assert re.search(r'^passerelle_gateway_requests_total\{country="PT"\} [1-9]', gateway, re.M)
    assert "passerelle_events_consumed_total{" not in gateway


def table(page: Page, table_id: str) -> list[list[str]]:
    """The data rows of one of the dashboard's tables (header row left out)."""
    return page.evaluate("""(id) => [...document.getElementById(id).rows].slice(1)
        .map((r) => [...r.cells].map((c) => c.textContent))""", table_id)


def number(text: str) -> float:
    """A figure as the page writes it in French ("1 234,5")."""
    return float(re.sub(r"[\s\u202f\u00a0]", "", text).replace(",", "."))


def count(page: Page, table_id: str, service: str, key: str) -> float:
    return next((number(r[2]) for r in table(page, table_id) if r[:2] == [service, key]), 0.0)


def test_the_dashboard_updates_without_reload_as_requests_go_through(page, system):
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    page.goto("/dashboard")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label(re.compile("Jeton d'opérateur")).fill(token(system, OPERATOR, "10", scope="ops:read"))
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_role("status")).to_contain_text("Mis à jour à")
    expect(page.locator("#figures")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    before = {key: count(page, "outcomes", PS, key) for key in ("terminée", "refusée", "en échec")}
    denied_before = {key: count(page, "denials", PS, key)
                     for key in ("CONSENT_NOT_CONFIRMED", "INFORMATION_NOTICE_NOT_GIVEN")}
    shot(page, "01-avant")

    physician = token(system, PHYSICIAN, "10")
    requests = [summary_request(system, physician), summary_request(system, physician, confirmed=False),
                summary_request(system, physician, notice=False), summary_request(system, physician, country="ZZ")]
    assert sorted(wait_outcome(system, physician, r) for r in requests) == ["completed", "denied", "denied", "failed"]

    # Requests by outcome and denials by reason: the page redraws on its own.
    expect_figure(page, lambda: count(page, "outcomes", PS, "terminée") >= before["terminée"] + 1
                  and count(page, "outcomes", PS, "refusée") >= before["refusée"] + 2
                  and count(page, "outcomes", PS, "en échec") >= before["en échec"] + 1, "requests by outcome")
    for reason, seen in denied_before.items():
        expect_figure(page, lambda: count(page, "denials", PS, reason) >= seen + 1, reason)
    # Per-topic event rates: the request topic moved within the rate window.
    expect_figure(page, lambda: any(r[0] == "ps.requested.v1" and number(r[1]) >= 4 and number(r[2]) > 0
                                    for r in table(page, "topics")), "event rate of ps.requested.v1")
    # Consumer lag: the consent group is listed, and has caught up.
    expect_figure(page, lambda: ["consent", "ps.requested.v1", "0"] in table(page, "lag"), "lag of consent")
    # Translation coverage and latency by country: PT's summary was translated.
    pt = lambda: next((r for r in table(page, "countries") if r[0] == "PT"), None)  # noqa: E731
    expect_figure(page, lambda: pt() is not None and pt()[3].endswith("%") and pt()[4] != "—", "PT coverage and latency")
    row = pt()
    assert 0 < number(row[3].removesuffix("%")) <= 100  # coverage
    assert 0 <= number(row[5]) <= number(row[6])  # p50 <= p95 (ms)
    zz = next(r for r in table(page, "countries") if r[0] == "ZZ")
    assert zz[3] == "—"  # nothing delivered, so no coverage: a dash, not an empty cell
    assert page.evaluate("window.sameDocument") is True and len(navigations) == 1  # no reload
    page_text = page.locator("body").inner_text()
    assert "193857264" not in page_text and PHYSICIAN not in page_text  # no patient or HP data
    shot(page, "02-apres")


def test_a_token_without_ops_read_is_refused_and_the_page_stops_asking(page, system):
    asked: list[int] = []
    page.on("response", lambda r: asked.append(r.status) if r.url.endswith("/v1/operations/stream-stats") else None)
    page.clock.install()  # the page's timers run when the test says so
    page.goto("/dashboard")
    page.get_by_label(re.compile("Jeton d'opérateur")).fill(token(system, PHYSICIAN, "10"))
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_role("status")).to_contain_text("ops:read requis")
    expect(page.locator("#figures")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('passerelle-ops-token')") is None
    expect(page.get_by_label(re.compile("Jeton d'opérateur"))).to_be_focused()
    page.clock.run_for(10_000)  # five polling periods: a refused token is not tried again
    assert asked == [403]
    shot(page, "03-refus")


def expect_figure(page: Page, condition, what: str, timeout: float = 30) -> None:
    """Wait for the page (redrawn every 2 s by its own script) to show ``condition``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            shot(page, "echec")
            raise AssertionError(f"the dashboard did not show {what} within {timeout} s")
        page.wait_for_timeout(250)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
