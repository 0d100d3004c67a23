"""France as country A (pure rules, no I/O): a foreign NCP's verified request about a French patient
→ identification answer, or DMP decision (+ emergency alert) and the transcoded Patient Summary or
a refusal without any clinical data."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

import structlog
from prometheus_client import Counter

from passerelle.crossborder import Policy, error
from passerelle.documents import pack
from passerelle.envelope import caused_by
from passerelle.events import (CROSSBORDER_DECISION, CROSSBORDER_IDENTIFICATION_OUTCOME, CROSSBORDER_REQUESTED,
                               CROSSBORDER_SUMMARY_OUTCOME, SECURITY_ALERT, request_key)
from passerelle.processor import Emit, Handlers, Incoming
from passerelle.service import Service
from passerelle.topics import Topics
from passerelle.consent_registry import ConsentRegistry
from passerelle.dmp import DmpRecord
from services.country_a.identify import identify, identity
from services.country_a.rules import disclosable, refusal
from services.country_a.transcode import NotAVsm, Tables, transcode

PRODUCER = Service.COUNTRY_A
log = structlog.get_logger()
#: the operator's alert for a VSM that cannot be read (Prometheus; the log line names the request only)
UNREADABLE_VSM = Counter("passerelle_country_a_unreadable_vsm", "VSMs that could not be transcoded")


@dataclass(frozen=True)
class CountryA:
    """What the rules read: the DMP, France's policy, the transcoding tables, the topics."""
    dmp: dict[str, DmpRecord]
    policy: Policy
    tables: Tables
    topics: Topics
    #: The patients' directives (consent registry topic), caught up before each batch.
    registry: ConsentRegistry | None = None


def _answer(cause: dict) -> dict:
    return {"envelope": caused_by(cause, PRODUCER), "requesting_country": cause["requesting_country"],
            "professional": cause["professional"], "patient": cause["patient"], "purpose": cause["purpose"]}


#: The country-a service reads the verified requests of foreign NCPs (``crossborder.requested``).
answer_foreign_ncp = Handlers()


@answer_foreign_ncp.on(CROSSBORDER_REQUESTED)
def answer_request(incoming: Incoming, country: CountryA) -> Iterable[Emit]:
    request = incoming.event
    if request["kind"] == "IDENTIFICATION":
        yield _identification(request, country)
    else:
        yield from _patient_summary(request, country)


def _identification(request: dict, country: CountryA) -> Emit:
    status, fields, record = identify(country.dmp, request["patient"]["patient_id"], request["traits"])
    codes = {"NOT_FOUND": "ERROR_PI_NO_MATCH", "MORE_TRAITS_NEEDED": "ERROR_PI_MORE_ATTRIBUTES_REQUIRED"}
    outcome = {**_answer(request), "status": status, "fields": fields,
               "identity": identity(record) if record else None,
               "error": error(codes[status]) if status in codes else None}
    return Emit(country.topics.crossborder_outcomes, CROSSBORDER_IDENTIFICATION_OUTCOME, outcome, request_key(request))


def _patient_summary(request: dict, country: CountryA) -> Iterable[Emit]:
    topics = country.topics
    record = country.dmp.get(request["patient"]["patient_id"])
    now_ms = int(time.time() * 1000)
    reason = refusal(request, record, country.policy, country.registry, now_ms)
    document = disclosable(request, record, country.registry, now_ms) if reason is None else None
    document_id = document.id if document is not None else None
    decision = {**_answer(request), "authorised": reason is None, "reason_code": reason, "document_id": document_id}
    yield Emit(topics.crossborder_decisions, CROSSBORDER_DECISION, decision, request_key(request))
    if reason is None and request["purpose"] == "EMERGENCY":
        yield Emit(topics.security_events, SECURITY_ALERT, _emergency_alert(decision), request_key(request))
    if reason is not None:
        yield _summary_outcome(decision, topics, "DENIED", error(reason))
        return
    if document is None:  # no synthèse, or the patient masked every one: as if there were none
        yield _summary_outcome(decision, topics, "FAILED", error("ERROR_PS_NOT_FOUND"))
        return
    try:
        pivot, kept = transcode(document.content, f"{document_id}-PIVOT", _now(), country.tables)
    except NotAVsm:
        UNREADABLE_VSM.inc()
        log.error("VSM unreadable: operator action needed", correlation_id=request["envelope"]["correlation_id"])
        yield _summary_outcome(decision, topics, "FAILED", error("ERROR_PS_DOCUMENT_UNAVAILABLE"))
        return
    pivot_encoding, pivot_bytes = pack(pivot)
    original_encoding, original_bytes = pack(document.content)
    summary = {"pivot": pivot_bytes, "pivot_encoding": pivot_encoding, "original": original_bytes,
               "original_encoding": original_encoding, "untranscoded": kept}
    yield _summary_outcome(decision, topics, "COMPLETED", None, summary, document_id)


def _summary_outcome(decision: dict, topics: Topics, status: str, err: dict | None, summary: dict | None = None,
                     document_id: str | None = None) -> Emit:
    outcome = {**_answer(decision), "status": status, "error": err, "summary": summary, "document_id": document_id}
    return Emit(topics.crossborder_outcomes, CROSSBORDER_SUMMARY_OUTCOME, outcome, request_key(decision))


def _emergency_alert(decision: dict) -> dict:
    """The security officers' alert of an emergency access (``SecurityAlert``; its ``hp`` field is a
    French professional's record: the foreign professional is mapped onto it, country in auth_method)."""
    p = decision["professional"]
    hp = {"rpps": p["id"], "profession": p["role"], "organisation": p["organisation"],
          "auth_method": f"NCP_ASSERTION_{decision['requesting_country']}",
          "assertion_issued_at": p["assertion_issued_at"]}
    return {"envelope": caused_by(decision, PRODUCER), "kind": "EMERGENCY_ACCESS", "hp": hp,
            "patient": decision["patient"], "purpose": decision["purpose"]}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S+0000")
