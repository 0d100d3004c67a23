"""An audit record as an HL7 FHIR R4 / R4B AuditEvent (IHE ATNA / BALP shape). Pure: no I/O.

R4 and R4B define AuditEvent identically; R5 reshaped it (``code``, ``authorization``, ``outcome``
as a backbone), so the export targets R4B, the version eHDSI/IHE profiles build on today.
"""

from __future__ import annotations

from datetime import datetime, timezone

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTION_SYSTEM = "urn:passerelle:audit-action"
#: The OID under which the CI-SIS publishes national HP identifiers (idNatPs, RPPS-based), as we know
#: it; not checked against the ANS OID registry from here: confirm before production use.
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
PROFESSION_SYSTEM = "urn:passerelle:fr-profession-code"
ORGANISATION_SYSTEM = "urn:passerelle:organisation"

#: audit action → (DICOM audit event type code, its display, FHIR action C/R/U/D/E).
#: An action not listed is exported as a generic "Patient Record" execute event.
EVENT_TYPES = {
    "PS_REQUESTED": ("110112", "Query", "E"),
    "CONSENT_DECIDED": ("110110", "Patient Record", "E"),
    "PS_QUERY_ROUTED": ("110112", "Query", "E"),
    "PS_RETRIEVED": ("110107", "Import", "C"),
    "PS_OUTCOME": ("110106", "Export", "R"),
    "AUDIT_TRAIL_READ": ("110101", "Audit Log Used", "R"),
    "PATIENT_HISTORY_PAGE": ("110101", "Audit Log Used", "R"),
    "PATIENT_HISTORY_CSV": ("110106", "Export", "R"),
    "PATIENT_HISTORY_PDF": ("110106", "Export", "R"),
    "HP_AUTHENTICATION_FAILED": ("110114", "User Authentication", "E"),
    "CONSENT_GRANTED": ("110110", "Patient Record", "U"),
    "CONSENT_REVOKED": ("110110", "Patient Record", "U"),
    "PATIENT_OPPOSED": ("110110", "Patient Record", "U"),
    "DOCUMENT_MASKED": ("110110", "Patient Record", "U"),
    "DOCUMENT_UNMASKED": ("110110", "Patient Record", "U"),
    "SECURITY_ALERT": ("110113", "Security Alert", "E"),
    "EP_REQUESTED": ("110112", "Query", "E"),
    "EP_QUERY_ROUTED": ("110112", "Query", "E"),
    "EP_RETRIEVED": ("110107", "Import", "C"),
    "EP_OUTCOME": ("110106", "Export", "R"),
    "ORCD_REQUESTED": ("110112", "Query", "E"),
    "ORCD_QUERY_ROUTED": ("110112", "Query", "E"),
    "ORCD_RETRIEVED": ("110107", "Import", "C"),
    "ORCD_OUTCOME": ("110106", "Export", "R"),
    "ORIGINAL_DOCUMENT_OPENED": ("110106", "Export", "R"),
    "EP_PRESCRIPTION_OBSERVED": ("110110", "Patient Record", "C"),
    "DISPENSATION_REQUESTED": ("110110", "Patient Record", "C"),
    "DISPENSATION_SUBMITTED": ("110106", "Export", "C"),
    "DISPENSATION_ACKNOWLEDGED": ("110110", "Patient Record", "U"),
    "DISPENSATION_REJECTED": ("110110", "Patient Record", "E"),
    "DISPENSATION_DISCARD_REQUESTED": ("110110", "Patient Record", "D"),
    "DISPENSATION_DISCARD_SUBMITTED": ("110106", "Export", "D"),
    "DISPENSATION_DISCARDED": ("110110", "Patient Record", "D"),
    "DISPENSATION_DISCARD_REJECTED": ("110110", "Patient Record", "E"),
    "IDENTIFICATION_REQUESTED": ("110112", "Query", "E"),  # patient discovery (IHE XCPD, ITI-55)
    "IDENTIFICATION_AUTHORISED": ("110110", "Patient Record", "E"),
    "IDENTIFICATION_QUERY_ROUTED": ("110112", "Query", "E"),
    "IDENTIFICATION_OUTCOME": ("110112", "Query", "E"),
    # France as country A: a foreign NCP asks about a French patient (docs/country-a.md)
    "NCP_IDENTIFICATION_REQUESTED": ("110112", "Query", "E"),
    "NCP_IDENTIFICATION_OUTCOME": ("110112", "Query", "E"),
    "NCP_PS_REQUESTED": ("110112", "Query", "E"),
    "NCP_PS_DECIDED": ("110110", "Patient Record", "E"),
    "NCP_PS_OUTCOME": ("110106", "Export", "R"),
}
DEFAULT_TYPE = ("110110", "Patient Record", "E")
OUTCOMES = {"SUCCESS": "0", "DENIED": "4", "FAILURE": "8"}  # FHIR audit-event-outcome
PURPOSES = {"TREATMENT": "TREAT", "EMERGENCY": "ETREAT"}  # HL7 v3 ActReason


def _instant(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _patient_entity(patient: dict, description: str) -> dict:
    return {"what": {"identifier": {"system": f"urn:passerelle:patient-id:{patient['country']}",
                                    "value": patient["patient_id"]}},
            "type": _coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
            "role": _coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"),
            "description": description}


def _professional_system(record: dict) -> str:
    """RPPS for a French professional; a professional abroad is identified in their own country."""
    country = record.get("hp_country")
    return f"urn:passerelle:professional-id:{country}" if country else RPPS_SYSTEM


def _agents(record: dict) -> list[dict]:
    purpose = PURPOSES.get(record.get("purpose") or "")
    purpose_of_use = [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", purpose)]}] if purpose else []
    hp = record.get("hp")
    if hp is None and record["action"].startswith("PATIENT_HISTORY_"):  # the patient, in the patient space
        return [{"who": {"display": "The patient (patient space)"}, "requestor": True}]
    if hp is None:
        return [{"who": {"display": "Passerelle (system)"}, "requestor": False}]
    agent = {"type": {"coding": [_coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "AUT", "author (originator)")]},
             "who": {"identifier": {"system": _professional_system(record), "value": hp["rpps"]}},
             "role": [{"coding": [_coding(PROFESSION_SYSTEM, hp["profession"])]}],
             "requestor": True, **({"purposeOfUse": purpose_of_use} if purpose_of_use else {})}
    if record.get("point_of_care"):
        agent["location"] = {"identifier": {"value": record["point_of_care"]}, "display": "point of care"}
    if record.get("request_origin"):
        agent["network"] = {"address": record["request_origin"], "type": "2"}  # 2 = IP address
    organisation = {"who": {"identifier": {"system": ORGANISATION_SYSTEM, "value": hp["organisation"]}},
                    "type": {"coding": [_coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider")]},
                    "requestor": False}
    return [agent, organisation]


def audit_event(record: dict) -> dict:
    """The FHIR AuditEvent (R4B) of one audit record (times in epoch ms, as the store keeps them)."""
    code, display, action = EVENT_TYPES.get(record["action"], DEFAULT_TYPE)
    env = record["envelope"]
    entities = []
    if record.get("patient"):
        entities.append(_patient_entity(record["patient"], "patient as identified at source"))
    if record.get("mapped_patient"):
        entities.append(_patient_entity(record["mapped_patient"], "patient as mapped"))
    details = [("correlation_id", env["correlation_id"]), ("source_event_id", record["source_event_id"]),
               ("source_event_type", record["source_event_type"]), ("source_topic", record["source_topic"]),
               ("source_causation_id", record.get("source_causation_id"))]
    entities.append({"what": {"identifier": {"system": "urn:passerelle:request", "value": env["correlation_id"]}},
                     "type": _coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                     "description": "the request (correlation id) and the audited event",
                     "detail": [{"type": k, "valueString": v} for k, v in details if v]})
    event = {"resourceType": "AuditEvent", "id": record["source_event_id"],
             "type": _coding(DCM, code, display),
             "subtype": [_coding(ACTION_SYSTEM, record["action"])],
             "action": action, "recorded": _instant(record["source_occurred_at"]),
             "outcome": OUTCOMES[record["outcome"]],
             "agent": _agents(record),
             "source": {"site": "FR-NCPeH", "observer": {"display": f"Passerelle {env['producer']}"},
                        "type": [_coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")]},
             "entity": entities}
    if record.get("document_id"):
        entities.insert(0, {"what": {"identifier": {"system": "urn:passerelle:document", "value": record["document_id"]}},
                            "type": _coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                            "description": "the patient's document concerned"})
    if record.get("reason_code"):
        event["outcomeDesc"] = record["reason_code"]
    if record.get("purpose") in PURPOSES:
        event["purposeOfEvent"] = [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", PURPOSES[record["purpose"]])]}]
    return event
