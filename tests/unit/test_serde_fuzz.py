"""Whatever bytes arrive, decoding either returns a valid event or raises DecodeError — nothing else."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.serde import DecodeError

VALID = {"envelope": {"event_id": "e", "event_type": "", "schema_version": 0, "correlation_id": "c",
                      "causation_id": None, "occurred_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "producer": "p"},
         "hp": {"rpps": "1", "profession": "10", "organisation": "o", "auth_method": "CPS",
                "assertion_issued_at": datetime(2026, 1, 1, tzinfo=timezone.utc)},
         "patient": {"country": "PT", "patient_id": "X"}, "purpose": "TREATMENT", "consent_confirmed": True,
         "information_notice_given": True, "request_origin": None}


def decode_or_refuse(serde, data: bytes) -> None:
    try:
        name, record = serde.decode(data)
    except DecodeError:
        return
    assert name in serde.schemas.by_name and isinstance(record, dict)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes(serde, data):
    decode_or_refuse(serde, data)


@settings(max_examples=300)
@given(st.data())
def test_valid_messages_truncated_or_with_flipped_bytes(serde, data):
    message = bytearray(serde.encode("fr.passerelle.ps.PatientSummaryRequested", {**VALID, "envelope": dict(VALID["envelope"])}))
    cut = data.draw(st.integers(0, len(message)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(message) - 1), st.integers(0, 255)), max_size=4))
    for index, value in flips:
        message[index] = value
    decode_or_refuse(serde, bytes(message[:cut]))
