"""France as country A, end to end on the real broker, as ``passerelle up`` runs it: a foreign NCP
played by ``passerelle abroad`` identifies a French patient and reads her Patient Summary; every step
is audited with the professional's country and the document read, one PatientAccessNotified per
disclosure; refusals (opposition, closed DMP, revoked key, bad signature, replay) carry no clinical
data and are audited; no log line holds the patient's name or INS."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import httpx
import pytest
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.crossborder import dev_key, sign_assertion
from passerelle.settings import KafkaSettings, Settings
from passerelle.testing import RunningSystem, read_topic
from passerelle.topics import Topics
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.e2e
CAMILLE, PAUL, JONAS = "286037505604238", "185072A12345665", "179029910945691"
SCHEMA = etree.XMLSchema(etree.parse(str(PROJECT_ROOT / "data" / "ehdsi-schemas" / "TM_resources" / "schema" / "CDA_Pharma.xsd")))
DOCTOR = {"id": "DE-HP-7", "name": "Dr. Anna Schmidt", "role": "physician", "organisation": "Charité", "country": "DE"}


@pytest.fixture(scope="module")
def mailbox():
    with smtp_server() as (box, port):
        yield box, port


@pytest.fixture(scope="module")
def system(tmp_path_factory, bootstrap, mailbox):
    running = RunningSystem(tmp_path_factory.mktemp("country-a"), bootstrap, PASSERELLE_LOG_FORMAT="json",
                            PASSERELLE_NOTIFICATIONS__SMTP_HOST="127.0.0.1",
                            PASSERELLE_NOTIFICATIONS__SMTP_PORT=str(mailbox[1]))
    try:
        yield running.wait_ready()
    finally:
        if running.process.poll() is None:
            running.interrupt()


def abroad(system, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([system.bin / "passerelle", "abroad", *args, "--gateway", system.url], env=system.env,
                          capture_output=True, text=True, timeout=60)


def events(system, bootstrap, key: str, predicate, count: int = 1, timeout: float = 30) -> list[dict]:
    """The events of a topic matching ``predicate``, once at least ``count`` are there (or fail)."""
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap), topic_prefix=system.env["PASSERELLE_TOPIC_PREFIX"])
    topic, serde = getattr(Topics(settings.topic_prefix), key), __import__("passerelle.runtime").runtime.make_serde(settings)
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in asyncio.run(read_topic(settings, serde, topic)) if predicate(e)]
        if len(found) >= count or time.monotonic() > deadline:
            return found


def test_identify_then_read_the_summary_audited_and_notified_and_the_refusals(system, bootstrap, mailbox):
    needed = abroad(system, "identify", "--country", "DE", "--ins", CAMILLE, "--birth-date", "1986-03-14")
    assert needed.returncode == 0 and json.loads(needed.stdout)["status"] == "more_traits_needed"
    assert json.loads(needed.stdout)["fields"] == ["birth_name"] and json.loads(needed.stdout)["patient"] is None
    found = abroad(system, "identify", "--country", "DE", "--ins", CAMILLE, "--birth-date", "1986-03-14",
                   "--birth-name", "Durand", "--first-names", "Camille")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["status"] == "found" and json.loads(found.stdout)["patient"]["ins"] == CAMILLE
    other = abroad(system, "identify", "--country", "DE", "--ins", PAUL, "--birth-date", "1986-03-14", "--birth-name", "Durand")
    assert json.loads(other.stdout) == {"status": "not_found", "fields": [], "patient": None,
                                        "error": json.loads(other.stdout)["error"]}

    summary = abroad(system, "summary", "--country", "DE", "--ins", CAMILLE, "--role", "physician", "--purpose", "TREATMENT")
    assert summary.returncode == 0, summary.stderr
    SCHEMA.assertValid(etree.fromstring(summary.stdout.encode()))
    assert "HHFA016" in summary.stderr  # what stayed French is listed

    for ins, code in ((PAUL, "ERROR_NO_CONSENT"), (JONAS, "ERROR_PATIENT_RECORD_CLOSED")):
        denied = abroad(system, "summary", "--country", "DE", "--ins", ins)
        assert denied.returncode == 1 and denied.stdout == "" and denied.stderr.startswith(code)
        assert "Le patient" in denied.stderr or "DMP" in denied.stderr
    revoked = abroad(system, "summary", "--country", "DE", "--ins", CAMILLE, "--kid", "de-dev-2024")
    assert revoked.returncode == 1 and revoked.stdout == "" and "ERROR_SEC_REVOKED_SIGNER" in revoked.stderr
    assert "revoked" in revoked.stderr and "révoquée" in revoked.stderr

    token = sign_assertion(dev_key("de-dev-2026"), "de-dev-2026", "DE", DOCTOR, "TREATMENT", CAMILLE)
    body = {"requesting_country": "DE", "patient": {"ins": CAMILLE}, "assertion": token}
    first = httpx.post(f"{system.url}/ncp/v1/patient-summaries", json=body, timeout=30)
    replayed = httpx.post(f"{system.url}/ncp/v1/patient-summaries", json=body, timeout=30)
    assert first.status_code == 200 and replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "ERROR_SEC_ASSERTION_REPLAYED" and "DURAND" not in replayed.text
    header, payload, signature = token.split(".")
    tampered = {**body, "assertion": f"{header}.{payload}.{signature[:-4]}AAAA"}
    bad = httpx.post(f"{system.url}/ncp/v1/patient-summaries", json=tampered, timeout=30)
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "ERROR_SEC_INVALID_SIGNATURE"

    # two disclosures of Camille's summary (the CLI's and the first HTTP call): two notifications
    notified = events(system, bootstrap, "audit_access_notifications",
                      lambda e: e["patient"] == {"country": "FR", "patient_id": CAMILLE}, count=2)
    assert len(notified) == 2
    assert {(n["hp_country"], n["document_id"], n["action"]) for n in notified} == {("DE", "VSM-2860375056042-1", "NCP_PS_OUTCOME")}
    assert {n["hp_name"] for n in notified} == {"Dr. Anna Schmidt"}
    # ... each delivered by e-mail to the address of her patient.json, by the notifications service
    mailbox[0].wait(lambda box: len(box.messages) >= 2)
    assert [m["To"] for m in mailbox[0].messages] == ["camille.durand@example.org"] * 2
    assert all("Allemagne" in m.get_content() for m in mailbox[0].messages)
    records = events(system, bootstrap, "audit_records", lambda e: e["action"] in (
        "HP_AUTHENTICATION_FAILED", "NCP_PS_DECIDED", "NCP_PS_OUTCOME", "NCP_IDENTIFICATION_OUTCOME"), count=14)
    reasons = {(r["action"], r["outcome"], r["reason_code"]) for r in records}
    assert {("HP_AUTHENTICATION_FAILED", "DENIED", "ERROR_SEC_REVOKED_SIGNER"),
            ("HP_AUTHENTICATION_FAILED", "DENIED", "ERROR_SEC_ASSERTION_REPLAYED"),
            ("HP_AUTHENTICATION_FAILED", "DENIED", "ERROR_SEC_INVALID_SIGNATURE"),
            ("NCP_PS_DECIDED", "DENIED", "ERROR_NO_CONSENT"), ("NCP_PS_DECIDED", "DENIED", "ERROR_PATIENT_RECORD_CLOSED"),
            ("NCP_PS_DECIDED", "SUCCESS", None), ("NCP_PS_OUTCOME", "SUCCESS", None),
            ("NCP_IDENTIFICATION_OUTCOME", "SUCCESS", None)} <= reasons
    read = [r for r in records if r["action"] == "NCP_PS_OUTCOME" and r["outcome"] == "SUCCESS"]
    assert {(r["hp"]["rpps"], r["hp_country"], r["purpose"], r["document_id"], r["patient_access"]) for r in read} == {
        ("DE-HP-0001", "DE", "TREATMENT", "VSM-2860375056042-1", True), ("DE-HP-7", "DE", "TREATMENT", "VSM-2860375056042-1", True)}

    assert "/ncp/v1/patient-summaries" in httpx.get(f"{system.url}/openapi.json").json()["paths"]
    log = system.log.read_text()
    assert "DURAND" not in log and "Durand" not in log and CAMILLE not in log and CAMILLE[:13] not in log
