"""France's rules for a foreign professional's Patient Summary request (pure): decree 2021-914 and
the DMP's rules. The first rule that refuses gives the reason (an eHDSI-style code)."""

from __future__ import annotations

from passerelle.crossborder import Policy
from services.country_a.dmp import DmpRecord


def refusal(request: dict, record: DmpRecord | None, policy: Policy) -> str | None:
    """None when every rule allows the access, else the code of the first that refuses."""
    if record is None:
        return "ERROR_PI_NO_MATCH"
    if record.patient.dmp_status != "open":
        return "ERROR_PATIENT_RECORD_CLOSED"
    if record.patient.cross_border_opposition:
        return "ERROR_NO_CONSENT"
    if request["professional"]["role"] not in policy.roles_may_read_ps:
        return "ERROR_INSUFFICIENT_RIGHTS"
    if not policy.purpose_allowed(request["purpose"], request["requesting_country"]):
        return "ERROR_POLICY_PURPOSE_NOT_ALLOWED"
    if not request["treatment_relationship"]:
        return "ERROR_NO_TREATMENT_RELATIONSHIP"
    return None


def readable_vsm(record: DmpRecord) -> bool:
    """The DMP holds a synthèse the patient has not masked."""
    return record.vsm is not None and record.vsm_id not in record.patient.masked_documents
