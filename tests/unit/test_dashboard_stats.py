"""The stream dashboard's figures, computed from offsets and events without I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from passerelle.envelope import caused_by, new_envelope
from passerelle.events import EP_OUTCOME, EP_REQUESTED, PS_OUTCOME, PS_REQUESTED
from services.gateway.dashboard.rules import OffsetSnapshot, RequestStats, group_lag, percentile, topic_rates, topic_totals

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=timezone.utc)


def request(country="PT", at=T0) -> dict:
    envelope = new_envelope("gateway")
    envelope["occurred_at"] = at
    return {"envelope": envelope, "patient": {"country": country, "patient_id": "X-1"}}


def outcome(cause: dict, status: str, after_ms: int, code: str | None = None, coded=0, translated=0) -> dict:
    envelope = caused_by(cause, "translation")
    envelope["occurred_at"] = cause["envelope"]["occurred_at"] + timedelta(milliseconds=after_ms)
    summary = {"coded_elements": coded, "translated_elements": translated} if status == "COMPLETED" else None
    return {"envelope": envelope, "patient": cause["patient"], "status": status,
            "error": {"code": code, "message": "..."} if code else None, "summary": summary}


def test_topic_rates_are_offset_deltas_over_time():
    before = OffsetSnapshot(100.0, {("a", 0): 10, ("a", 1): 5, ("b", 0): 7})
    after = OffsetSnapshot(110.0, {("a", 0): 30, ("a", 1): 15, ("b", 0): 7, ("c", 0): 4})
    assert topic_totals(after.ends) == {"a": 45, "b": 7, "c": 4}
    assert topic_rates(before, after) == {"a": 3.0, "b": 0.0, "c": 0.4}
    assert topic_rates(after, after) == {}


def test_lag_counts_only_the_topics_a_group_committed_on_and_uncommitted_partitions_whole():
    ends = {("a", 0): 10, ("a", 1): 4, ("b", 0): 100}
    assert group_lag({("a", 0): 7}, ends) == {"a": 3 + 4}
    assert group_lag({("a", 0): 10, ("a", 1): 4}, ends) == {"a": 0}
    assert group_lag({}, ends) == {}


def test_percentile_is_the_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_outcomes_denials_coverage_and_latency_by_country():
    stats = RequestStats()
    pt1, pt2, be = request("PT"), request("PT"), request("be")
    for r in (pt1, pt2, be):
        stats.apply(PS_REQUESTED, r)
    stats.apply(PS_REQUESTED, pt1)  # redelivered: counted once
    stats.apply(PS_OUTCOME, outcome(pt1, "COMPLETED", 400, coded=10, translated=8))
    stats.apply(PS_OUTCOME, outcome(pt2, "DENIED", 100, code="PATIENT_OPPOSED"))
    ep = request("PT")
    stats.apply(EP_REQUESTED, ep)
    stats.apply(EP_OUTCOME, outcome(ep, "DENIED", 50, code="PROFESSION_NOT_ALLOWED"))
    orphan = request("LU")
    stats.apply(PS_OUTCOME, outcome(orphan, "FAILED", 10, code="NCP_UNAVAILABLE"))  # its request was not seen
    view = stats.view()
    assert view["requests_by_outcome"] == {"eprescription": {"DENIED": 1},
                                           "patient_summary": {"COMPLETED": 1, "DENIED": 1, "FAILED": 1}}
    assert view["denials_by_reason"] == {"eprescription": {"PROFESSION_NOT_ALLOWED": 1},
                                         "patient_summary": {"PATIENT_OPPOSED": 1}}
    pt = view["countries"]["PT"]
    assert (pt["requests"], pt["outcomes"], pt["coverage"]) == (3, 3, 0.8)
    assert pt["latency_ms"] == {"count": 3, "mean": 550 / 3, "p50": 100.0, "p95": 400.0}
    assert view["countries"]["BE"]["outcomes"] == 0 and view["countries"]["BE"]["coverage"] is None
    assert view["countries"]["LU"]["latency_ms"]["count"] == 0
    assert view["pending"] == 1  # BE's request has no outcome yet
    assert "X-1" not in str(view)


def test_pending_requests_are_bounded():
    stats = RequestStats(max_pending=2)
    for _ in range(5):
        stats.apply(PS_REQUESTED, request())
    assert stats.view()["pending"] == 2 and stats.view()["countries"]["PT"]["requests"] == 5


def test_prescription_lists_count_their_coded_terms_in_the_translation_coverage():
    term = lambda code, french: {"code": code, "system": "s", "original": "o", "french": french}  # noqa: E731
    item = {"item_id": "1", "product": term("P1", None), "ingredients": [{"substance": term("A01", "x"), "strength": None}],
            "dose_form": term("10219000", "comprimé"), "route": term(None, None), "package": term("30009000", "boîte"),
            "package_size": None, "quantity": 1, "dosage": None, "substitution": "N", "dispensable": True}
    cause = request("FI")
    listed = {**outcome(cause, "COMPLETED", 40), "summary": None,
              "prescriptions": [{"prescription_id": "p", "language": "fi-FI", "items": [item]}]}
    stats = RequestStats()
    stats.apply(EP_REQUESTED, cause)
    stats.apply(EP_OUTCOME, listed)
    fi = stats.view()["countries"]["FI"]
    assert (fi["coded_elements"], fi["translated_elements"]) == (4, 3)  # the route has no code: not counted
    assert fi["coverage"] == 0.75
