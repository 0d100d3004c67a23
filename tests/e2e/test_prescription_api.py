"""End to end over HTTP (``passerelle up``): a French pharmacist lists a Finnish patient's
prescriptions in French, dispenses part of one, is refused more than what remains, discards, and
country A (the simulator) acknowledges each step."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from tests.e2e.campaign import worker_pids

pytestmark = pytest.mark.e2e
PHARMACIST = "10002000007"  # data/rpps-dev.yaml
FI_PATIENT = "140772-946S"  # data/ncp/FI/140772-946S/ep/: two prescriptions, no summary needed


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def list_prescriptions(system, token: str, country="FI", patient_id=FI_PATIENT, **extra) -> httpx.Response:
    params = {"country": country, "patient_id": patient_id, "consent_confirmed": "true",
              "information_notice_given": "true", "wait": "20", **extra}
    return httpx.get(f"{system.url}/v1/prescriptions", params=params, headers=auth(token), timeout=30)


def dispense(system, token: str, prescription_id: str, item_id: str, quantity: int, country="FI",
             patient_id=FI_PATIENT, **line) -> str:
    body = {"country": country, "patient_id": patient_id, "prescription_id": prescription_id,
            "lines": [{"item_id": item_id, "quantity": quantity, **line}]}
    resp = httpx.post(f"{system.url}/v1/dispensations", json=body, headers=auth(token), timeout=10)
    assert resp.status_code == 202, resp.text
    return resp.json()["dispensation_id"]


def settled(system, token: str, dispensation_id: str, timeout: float = 30,
            until=("acknowledged", "rejected", "discarded")) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = httpx.get(f"{system.url}/v1/dispensations/{dispensation_id}", headers=auth(token), timeout=10)
        assert resp.status_code in (200, 404), resp.text  # 404 until this gateway has read the request
        if resp.status_code == 200 and resp.json()["status"] in until:
            return resp.json()
        time.sleep(0.05)
    raise TimeoutError(f"dispensation {dispensation_id} not settled after {timeout}s")


def test_a_finnish_prescription_is_listed_in_french_dispensed_and_told_to_finland(system):
    token = system.token(PHARMACIST, "21")
    listed = list_prescriptions(system, token)
    assert listed.status_code == 200, listed.text
    answer = listed.json()
    assert answer["status"] == "completed" and len(answer["prescriptions"]) == 2
    prescription = next(p for p in answer["prescriptions"] if p["prescription_id"].endswith("FI-EP-1001"))
    metformin = prescription["items"][0]
    assert metformin["active_ingredients"][0]["code"] == "A10BA02"
    assert metformin["active_ingredients"][0]["display"] == "metformine"
    assert (metformin["dose_form"]["display"], metformin["route"]["display"]) == ("Comprimé", "Voie orale")
    assert (metformin["quantity"], metformin["substitution_allowed"], metformin["dispensable"]) == (3, True, True)
    assert prescription["items"][1]["substitution_allowed"] is False
    suspended = next(p for p in answer["prescriptions"] if p["prescription_id"].endswith("FI-EP-1002"))
    assert suspended["items"][0]["dispensable"] is False

    pid, item = prescription["prescription_id"], metformin["item_id"]
    first = settled(system, token, dispense(system, token, pid, item, 2, substitution="G"))
    assert first["status"] == "acknowledged" and first["prescription_status"] == "partly_dispensed"
    too_much = settled(system, token, dispense(system, token, pid, item, 2))
    assert too_much["status"] == "rejected" and too_much["error"]["code"] == "QUANTITY_EXCEEDED"
    insulin = prescription["items"][1]["item_id"]
    substituted = settled(system, token, dispense(system, token, pid, insulin, 1, substitution="G"))
    assert substituted["error"]["code"] == "SUBSTITUTION_NOT_ALLOWED"

    discarded = httpx.delete(f"{system.url}/v1/dispensations/{first['dispensation_id']}", headers=auth(token), timeout=10)
    assert discarded.status_code == 202, discarded.text
    assert settled(system, token, first["dispensation_id"], until=("discarded", "rejected"))["status"] == "discarded"
    full = settled(system, token, dispense(system, token, pid, item, 3))
    assert full["status"] == "acknowledged"


def test_french_prescriptions_and_other_professions_are_refused(system):
    token = system.token(PHARMACIST, "21")
    french = list_prescriptions(system, token, country="FR", patient_id="123")
    assert french.status_code == 400 and french.json()["error"]["code"] == "PRESCRIPTION_FROM_FRANCE"
    physician = system.token("10001234565", "10")  # pharmacists only (data/professions.yaml)
    listed = list_prescriptions(system, physician)
    assert listed.status_code == 200 and listed.json()["status"] == "denied"
    assert listed.json()["error"]["code"] == "SERVICE_NOT_ALLOWED_FOR_PROFESSION"
    body = {"country": "FI", "patient_id": FI_PATIENT, "prescription_id": "x", "lines": [{"item_id": "y", "quantity": 1}]}
    refused = httpx.post(f"{system.url}/v1/dispensations", json=body, headers=auth(physician), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "SERVICE_NOT_ALLOWED_FOR_PROFESSION"
    denied = list_prescriptions(system, token, consent_confirmed="false")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert denied.json()["error"]["code"] == "CONSENT_NOT_CONFIRMED"


def test_a_listing_not_back_within_wait_is_polled_by_its_request_id(system):
    token = system.token(PHARMACIST, "21")
    pending = list_prescriptions(system, token, country="PT", patient_id="310522841", wait="0")  # no summary there
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    request_id = pending.json()["request_id"]
    deadline = time.monotonic() + 30
    while (answer := httpx.get(f"{system.url}/v1/prescriptions/requests/{request_id}", headers=auth(token),
                               timeout=10).json())["status"] == "pending":
        assert time.monotonic() < deadline, "still pending"
        time.sleep(0.05)
    assert answer["status"] == "completed"
    [prescription] = answer["prescriptions"]
    assert prescription["items"][0]["active_ingredients"][0]["display"] == "atorvastatine"
    other = httpx.get(f"{system.url}/v1/prescriptions/requests/{request_id}", headers=auth(system.token()), timeout=10)
    assert other.status_code == 404  # only the pharmacist who asked


def test_a_dispensation_sent_the_moment_its_listing_arrives_is_not_refused_as_never_listed(system):
    """The prescription service learns a listing's prescriptions on another path than the pharmacist
    (its PrescriptionObserved on ep.commands). Held up here (SIGSTOP) until a second after the listing
    has reached the pharmacist, it has not recorded the listing when the dispensation is sent: the
    gateway holds the dispensation until the observation is on ep.commands, so that the dispensation
    comes after it and is not refused as PRESCRIPTION_NOT_FOUND."""
    token = system.token(PHARMACIST, "21")
    prescription_service = worker_pids(system.process.pid)["prescription"]
    resume = threading.Timer(1.0, os.kill, (prescription_service, signal.SIGCONT))
    os.kill(prescription_service, signal.SIGSTOP)
    try:
        listed = list_prescriptions(system, token, country="PT", patient_id="310522841")
        assert listed.status_code == 200 and listed.json()["status"] == "completed", listed.text
        [prescription] = listed.json()["prescriptions"]
        resume.start()
        sent = time.monotonic()
        dispensation = dispense(system, token, prescription["prescription_id"], prescription["items"][0]["item_id"], 1,
                                country="PT", patient_id="310522841")
        assert time.monotonic() - sent > 0.5  # held until the prescription service was back
    finally:
        resume.cancel()
        os.kill(prescription_service, signal.SIGCONT)
    answer = settled(system, token, dispensation)
    assert answer["status"] == "acknowledged", answer
