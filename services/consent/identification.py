"""Identification (step 1) at the consent service: the HP's identity rules, as for any request.

Before France asks country A who a patient is, the professional must be allowed to ask at all:
known RPPS, eligible profession (for at least one cross-border service), two-factor authentication,
assertion under 4 hours. Consent and the registry are not checked here: they are about reading the
patient's data (step 2), and the patient is not yet known. A refusal ends the identification
(``DENIED``); an allowed one goes to the router as a ``PatientIdentificationQuery``.
"""

from __future__ import annotations

from typing import Iterable

from passerelle.countries import PATIENT_SUMMARY
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import IDENTIFICATION_QUERY, IDENTIFICATION_REQUESTED, identification_outcome, request_key
from passerelle.processor import Emit, Incoming
from passerelle.professionals import identity_refusal, service_refusal
from passerelle.topics import Topics
from passerelle.service import Service

PRODUCER = Service.CONSENT
#: Identifying a patient serves one of these; a profession allowed none may not identify anyone.
SERVICES_AFTER_IDENTIFICATION = (PATIENT_SUMMARY, "eprescription")


def identification_refusal(hp: dict, rules, now_ms: int) -> str | None:
    """The reason code of the first identity rule that refuses ``hp``, or None."""
    refusal = identity_refusal(hp, rules.directory, rules.professions, now_ms)
    if refusal:
        return refusal
    if all(service_refusal(hp, rules.professions, s) for s in SERVICES_AFTER_IDENTIFICATION):
        return "SERVICE_NOT_ALLOWED_FOR_PROFESSION"
    return None


def decide_identification(incoming: Incoming, topics: Topics, rules, now_ms: int) -> Iterable[Emit]:
    request = incoming.event
    refusal = identification_refusal(request["hp"], rules, now_ms)
    if refusal:
        yield identification_outcome(topics, request, PRODUCER, "DENIED", error(refusal))
        return
    query = {"envelope": caused_by(request, PRODUCER), "hp": request["hp"], "patient": request["patient"],
             "search_fields": request["search_fields"]}
    yield Emit(topics.identification_authorised, IDENTIFICATION_QUERY, query, request_key(request))
