"""Integration fixtures: the topics of one test, created on the real broker."""

from __future__ import annotations

import time

import pytest

from passerelle.envelope import new_envelope
from system.supervisor import ensure_topics


@pytest.fixture
async def topics_ready(settings):
    await ensure_topics(settings)
    return settings


def patient_summary_request(country="PT", patient_id="PT-TEST-1", confirmed=True, notice=True,
                            profession="10", auth_method="CPS", rpps="10001234565", purpose="TREATMENT") -> dict:
    return {"envelope": new_envelope("test"),
            "hp": {"rpps": rpps, "profession": profession, "organisation": "750000001",
                   "auth_method": auth_method, "assertion_issued_at": int(time.time() * 1000)},
            "patient": {"country": country, "patient_id": patient_id}, "purpose": purpose,
            "consent_confirmed": confirmed, "information_notice_given": notice, "request_origin": "127.0.0.1"}
