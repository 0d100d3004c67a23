"""End to end, as ``make run`` starts it (audit store on the embedded SQLite default; this module's
own system, from the module-scoped ``system`` fixture of conftest.py): every demo
patient's summary is read, the patient-side list shows who accessed it, the chain verifies, the
FHIR export validates — and no log line holds any demo patient's name or identifier."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from lxml import etree

from passerelle import PROJECT_ROOT

from tests.e2e.conftest import stop

pytestmark = pytest.mark.e2e
NCP = PROJECT_ROOT / "data" / "ncp"
HL7 = {"h": "urn:hl7-org:v3"}


def demo_patients() -> list[tuple[str, str]]:
    return sorted((d.parent.name, d.name) for d in NCP.glob("*/*") if d.is_dir())


def personal_data(country: str, patient_id: str) -> set[str]:
    """The patient's identifiers and name parts, read from the demo data itself."""
    folder, found = NCP / country / patient_id, {patient_id}
    for xml in folder.glob("*.xml"):
        patient = etree.parse(str(xml)).find(".//h:recordTarget/h:patientRole", HL7)
        found |= {i.get("extension") for i in patient.findall("h:id", HL7) if i.get("extension")}
        found |= {n.text.strip() for n in patient.findall("h:patient/h:name/*", HL7) if n.text and n.text.strip()}
    for js in folder.glob("*.json"):
        doc = json.loads(js.read_text())
        resources = [e["resource"] for e in doc.get("entry", [])] if doc.get("resourceType") == "Bundle" else []
        for r in resources:
            if r.get("resourceType") == "Patient":
                found |= {i["value"] for i in r.get("identifier", [])}
                for name in r.get("name", []):
                    found |= {name.get("family")} | set(name.get("given", []))
        if "family" in doc:  # the simulator's demographics file
            found |= {doc["family"], *doc["given"].split(), doc["family"].split()[0], doc.get("birth_date")}
            found |= {i["value"] for i in doc.get("identifiers", [])}
    return {f for f in found if f and len(f) >= 4}


def cli(system, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([system.bin / "passerelle", "audit", *args], env=system.env, capture_output=True, text=True)


def ask_and_wait(system, token: str, country: str, patient_id: str, confirmed: bool = True) -> dict:
    body = {"country": country, "patient_id": patient_id, "purpose": "TREATMENT",
            "consent": {"confirmed": confirmed, "information_notice_given": True}}
    headers = {"Authorization": f"Bearer {token}"}
    request_id = httpx.post(f"{system.url}/v1/patient-summaries", json=body, headers=headers, timeout=10).json()["request_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.get(f"{system.url}/v1/patient-summaries/{request_id}", headers=headers, timeout=10).json()
        if answer["status"] != "pending":
            return answer | {"request_id": request_id}
        time.sleep(0.05)
    raise TimeoutError(request_id)


def accesses(system, token: str, country: str, patient_id: str) -> httpx.Response:
    return httpx.get(f"{system.url}/v1/audit/accesses", params={"country": country, "patient_id": patient_id},
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_the_audit_trail_of_every_demo_patient_from_request_to_patient_side_list(system):
    hp = system.token()
    officer = system.token("10009999995", "10", "--scope", "audit:read")
    answers = {}
    for country, patient_id in demo_patients():
        answers[(country, patient_id)] = ask_and_wait(system, hp, country, patient_id)
    refused = ask_and_wait(system, hp, "PT", "193857264", confirmed=False)
    assert refused["status"] == "denied"
    completed = {k: a for k, a in answers.items() if a["status"] == "completed"}
    assert len(completed) >= 4

    for (country, patient_id), answer in completed.items():
        # The access (the outcome's audit record) can be stored before the request's own records,
        # which carry its purpose: wait for both (the store fills the purpose from the request's).
        deadline = time.monotonic() + 20
        while not ((listed := accesses(system, officer, country, patient_id).json()["accesses"])
                   and listed[0]["purpose"] is not None):
            assert time.monotonic() < deadline, f"no access listed for {country}, or none with its purpose"
            time.sleep(0.1)
        assert [a["request_id"] for a in listed] == [answer["request_id"]]  # the denied request is no access
        assert listed[0]["rpps"] == "10001234565" and listed[0]["purpose"] == "TREATMENT"
    assert accesses(system, hp, "PT", "193857264").status_code == 403  # an HP without audit:read

    time.sleep(1.0)  # the store writer takes the last records
    verify = cli(system, "verify")
    assert verify.returncode == 0 and "hash chain verified" in verify.stderr, verify.stdout + verify.stderr
    exported = cli(system, "export")
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    assert all(AuditEvent.model_validate(e) for e in events)
    requests_audited = {d["valueString"] for e in events for d in e["entity"][-1]["detail"] if d["type"] == "correlation_id"}
    assert {a["request_id"] for a in answers.values()} | {refused["request_id"]} <= requests_audited
    outcomes = {e["outcome"] for e in events}
    assert {"0", "4"} <= outcomes  # successes and the denial
    reads = [e for e in events if e["subtype"][0]["code"] == "AUDIT_TRAIL_READ"]
    assert {e["outcome"] for e in reads} == {"0", "4"}  # the officer's lists and the HP's refusal


def test_no_log_holds_a_demo_patients_name_or_identifier(system):
    code, survivors = stop(system)
    assert code == 0 and survivors == []
    log = system.log.read_text(encoding="utf-8")
    assert "audit records stored" in log and "audit accesses listed" in log  # the audit side did log
    personal = set().union(*(personal_data(c, p) for c, p in demo_patients()))
    assert {"193857264", "284716395", "140772-946S", "23044903575", "574687583", "DeLarosa"} <= personal
    leaked = sorted(p for p in personal if p in log)
    assert leaked == []
