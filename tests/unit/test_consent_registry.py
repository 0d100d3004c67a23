"""The consent registry view and the abuse windows: pure state, no broker."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.consent.abuse import SlidingWindow
from services.consent.cli import directive
from passerelle.consent_registry import ConsentRegistry, directive_key

HP = {"rpps": "10001234565", "organisation": "750000001"}
OTHER_HP = {"rpps": "10009999995", "organisation": "750000002"}
PATIENT = {"country": "PT", "patient_id": "193857264"}
PS = "patient-summary"
HOUR = 3600 * 1000


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def said(registry: ConsentRegistry, kind: str, when: int, professional=None, organisation=None, service=None,
         until: int | None = None) -> dict:
    event = directive(kind, "PT", "193857264", professional, organisation, service,
                      at(until) if until else None, "test", valid_from=at(when))
    event["envelope"]["occurred_at"] = at(when)
    registry.apply(directive_key(event), event)
    return event


T0 = 1_800_000_000_000


def test_without_any_directive_the_registry_does_not_refuse():
    assert ConsentRegistry().refusal(PATIENT, HP, PS, T0) is None


def test_an_opposition_refuses_everyone_until_a_later_grant_lifts_it_for_whom_it_names():
    registry = ConsentRegistry()
    said(registry, "OPPOSITION", T0)
    assert registry.refusal(PATIENT, HP, PS, T0 + 1) == "PATIENT_OPPOSED"
    said(registry, "GRANT", T0 + 10, professional=HP["rpps"], until=T0 + HOUR)
    assert registry.refusal(PATIENT, HP, PS, T0 + 11) is None
    assert registry.refusal(PATIENT, OTHER_HP, PS, T0 + 11) == "PATIENT_OPPOSED"
    # the grant's period ends: the opposition is the latest word in force again
    assert registry.refusal(PATIENT, HP, PS, T0 + HOUR) == "PATIENT_OPPOSED"


def test_a_revocation_replaces_the_grant_it_withdraws_and_takes_effect_from_its_time():
    registry = ConsentRegistry()
    grant = said(registry, "GRANT", T0, organisation=HP["organisation"])
    revocation = said(registry, "REVOCATION", T0 + 100, organisation=HP["organisation"])
    assert directive_key(grant) == directive_key(revocation)  # compaction keeps only the revocation
    assert registry.refusal(PATIENT, HP, PS, T0 + 50) is None  # decided before the revocation
    assert registry.refusal(PATIENT, HP, PS, T0 + 100) == "CONSENT_REVOKED"
    assert registry.refusal(PATIENT, OTHER_HP, PS, T0 + 100) is None  # another organisation


def test_a_directive_for_one_service_leaves_the_others_alone():
    registry = ConsentRegistry()
    said(registry, "OPPOSITION", T0, service="eprescription")
    assert registry.refusal(PATIENT, HP, PS, T0 + 1) is None
    assert registry.refusal(PATIENT, HP, "eprescription", T0 + 1) == "PATIENT_OPPOSED"


def test_on_a_tie_the_refusal_wins_and_a_tombstone_erases():
    registry = ConsentRegistry()
    said(registry, "GRANT", T0)
    opposition = said(registry, "OPPOSITION", T0)
    assert registry.refusal(PATIENT, HP, PS, T0) == "PATIENT_OPPOSED"
    registry.apply(directive_key(opposition), None)
    assert registry.refusal(PATIENT, HP, PS, T0) is None


def test_an_unreadable_directive_refuses_its_patient_until_replaced():
    registry = ConsentRegistry()
    key = directive_key(directive("OPPOSITION", "PT", "193857264", None, None, None, None, "t"))
    registry.mark_unreadable(key)
    assert registry.refusal(PATIENT, HP, PS, T0) == "CONSENT_REGISTRY_UNREADABLE"
    said(registry, "OPPOSITION", T0)  # same key, readable now
    assert registry.refusal(PATIENT, HP, PS, T0 + 1) == "PATIENT_OPPOSED"
    # a key that names no patient refuses nobody (issue 18: it used to stop the consent service)
    for key in (b"not a key", b"\xff\xfe", None, b"42", b'["PT"]', b'[1, 2]', b'{"a": 1}'):
        assert registry.mark_unreadable(key) is False
    assert registry.refusal({"country": "PT", "patient_id": "other"}, HP, PS, T0) is None


def test_a_directive_names_a_professional_or_an_organisation_not_both():
    with pytest.raises(ValueError):
        directive("GRANT", "PT", "1", "10001234565", "750000001", None, None, "t")


def test_the_sliding_window_alerts_once_when_a_threshold_is_exceeded_and_rearms():
    window = SlidingWindow(window_ms=1000, threshold=2)
    assert [window.observe("hp", t) for t in (0, 10, 20, 30)] == [None, None, 3, None]
    assert window.observe("other", 30) is None
    assert window.observe("hp", 1500) is None  # the window slid: 1 left, re-armed
    assert [window.observe("hp", t) for t in (1510, 1520)] == [None, 3]
    window.forget_idle(10_000)
    assert window._events == {}


def test_one_key_per_document_and_an_unreadable_document_directive_refuses_the_whole_patient():
    mask = directive("OPPOSITION", "PT", "193857264", None, None, PS, None, "t")
    one, other = ({**mask, "document_id": d} for d in ("DOC-1", "DOC-2"))
    shown = {**one, "kind": "GRANT"}
    assert directive_key(one) == directive_key(shown) != directive_key(other)  # showing replaces masking
    assert directive_key(mask) not in (directive_key(one), directive_key(other))  # the record's word is apart
    assert directive_key(mask) == directive_key({**mask, "document_id": None})  # version-1 keys unchanged
    registry = ConsentRegistry()
    registry.mark_unreadable(directive_key(one))  # it might have been a mask: refuse, do not guess
    assert registry.refusal(PATIENT, HP, PS, T0) == "CONSENT_REGISTRY_UNREADABLE"
