"""France's rules for a foreign professional's Patient Summary request (pure): decree 2021-914 and
the DMP's rules. The first rule that refuses gives the reason (an eHDSI-style code)."""

from __future__ import annotations

from passerelle.crossborder import Policy
from passerelle.consent_registry import CROSS_BORDER_SERVICE, GRANT, ConsentRegistry
from passerelle.dmp import DmpDocument, DmpRecord


def opposed(request: dict, record: DmpRecord, registry: ConsentRegistry | None, now_ms: int) -> bool:
    """The patient's latest word in the consent registry (from the patient space: an opposition, or
    a grant lifting it) decides; without one, the DMP's own flag. An unreadable directive of the
    patient, or a registry that could not be restored after a restart, refuses (fails closed)."""
    if registry is not None and registry.lost:
        return True
    professional = request["professional"]
    hp = {"rpps": professional["id"], "organisation": professional["organisation"]}
    word = registry.latest_word({"country": "FR", "patient_id": record.patient.ins}, hp, CROSS_BORDER_SERVICE,
                                now_ms) if registry is not None else None
    return record.patient.cross_border_opposition if word is None else word != GRANT


def refusal(request: dict, record: DmpRecord | None, policy: Policy, registry: ConsentRegistry | None = None,
            now_ms: int = 0) -> str | None:
    """None when every rule allows the access, else the code of the first that refuses."""
    if record is None:
        return "ERROR_PI_NO_MATCH"
    if record.patient.dmp_status != "open":
        return "ERROR_PATIENT_RECORD_CLOSED"
    if opposed(request, record, registry, now_ms):
        return "ERROR_NO_CONSENT"
    if request["professional"]["role"] not in policy.roles_may_read_ps:
        return "ERROR_INSUFFICIENT_RIGHTS"
    if not policy.purpose_allowed(request["purpose"], request["requesting_country"]):
        return "ERROR_POLICY_PURPOSE_NOT_ALLOWED"
    if not request["treatment_relationship"]:
        return "ERROR_NO_TREATMENT_RELATIONSHIP"
    return None


def masked(request: dict, record: DmpRecord, registry: ConsentRegistry | None, now_ms: int) -> set[str]:
    """The documents never to disclose to this professional: masked in the DMP itself, or by the
    patient in the patient space (a ``ConsentDirective`` naming the document, latest word wins)."""
    professional = request["professional"]
    hp = {"rpps": professional["id"], "organisation": professional["organisation"]}
    chosen = registry.masked_documents({"country": "FR", "patient_id": record.patient.ins}, hp, CROSS_BORDER_SERVICE,
                                       now_ms) if registry is not None else set()
    return set(record.patient.masked_documents) | chosen


def disclosable(request: dict, record: DmpRecord, registry: ConsentRegistry | None, now_ms: int) -> DmpDocument | None:
    """The newest synthèse the patient has not masked (from this professional), or None."""
    hidden = masked(request, record, registry, now_ms)
    return next((d for d in record.documents if d.id not in hidden), None)
