"""The patient consent registry as the consent service holds it: grants, revocations, oppositions.

Pure state, no I/O. Directives arrive from the compacted registry topic (``view.py`` reads it); each
is stored under the same key as on the topic, so this view holds exactly what a compacted topic
keeps, whether or not the broker has compacted yet (Tansu never does).

The rule: among the directives about this patient that apply to this professional (by RPPS number,
by organisation, or to everyone) and to this service (or to every service), and that are in force
at decision time, the most recently recorded one decides — a grant allows, a revocation or an
opposition refuses. With none, the professional's confirmation of consent at the point of care is
the patient's word (MyHealth@EU), and country A may still refuse on its side (4701).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from passerelle.events import directive_key  # noqa: F401 (the compaction key: the core's, shared with `passerelle produce`)

GRANT, REVOCATION, OPPOSITION = "GRANT", "REVOCATION", "OPPOSITION"
UNREADABLE = "UNREADABLE"
REFUSALS = {REVOCATION: "CONSENT_REVOKED", OPPOSITION: "PATIENT_OPPOSED", UNREADABLE: "CONSENT_REGISTRY_UNREADABLE"}
#: On a tie in recording time the refusal wins (the safe side).
_SAFER_FIRST = {UNREADABLE: 3, OPPOSITION: 2, REVOCATION: 1, GRANT: 0}

#: The service a patient's cross-border directive names (docs/patient-space.md): the DMP's Patient
#: Summary read by a professional abroad (France as country A).
CROSS_BORDER_SERVICE = "patient-summary"


def patient_of_key(key: bytes | None) -> tuple[str, str] | None:
    """(country, patient id) named by a registry key (``directive_key``), or None for any other key."""
    try:
        value = json.loads(key)
    except (TypeError, ValueError):  # no key, not UTF-8, not JSON
        return None
    if isinstance(value, list) and len(value) >= 2 and all(isinstance(v, str) for v in value[:2]):
        return value[0], value[1]
    return None


def _ms(value) -> int:
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


@dataclass(frozen=True)
class Directive:
    kind: str
    grantee_kind: str | None
    grantee_id: str | None
    service: str | None
    valid_from: int
    valid_until: int | None
    recorded_at: int
    #: The one document it is about (masked by an OPPOSITION, shareable again by a GRANT); None: the record.
    document_id: str | None = None

    @classmethod
    def of(cls, event: dict) -> "Directive":
        grantee = event.get("grantee")
        until = event.get("valid_until")
        return cls(event["kind"], grantee["kind"] if grantee else None, grantee["id"] if grantee else None,
                   event.get("service"), _ms(event["valid_from"]), None if until is None else _ms(until),
                   _ms(event["envelope"]["occurred_at"]), event.get("document_id"))

    def applies_to(self, hp: dict, service: str) -> bool:
        if self.service is not None and self.service != service:
            return False
        return (self.grantee_kind is None
                or (self.grantee_kind == "PROFESSIONAL" and self.grantee_id == hp["rpps"])
                or (self.grantee_kind == "ORGANISATION" and self.grantee_id == hp["organisation"]))

    def in_force(self, now_ms: int) -> bool:
        if now_ms < self.valid_from:
            return False
        return self.kind != GRANT or self.valid_until is None or now_ms < self.valid_until


class ConsentRegistry:
    def __init__(self, lost: str | None = None) -> None:
        self._by_patient: dict[tuple[str, str], dict[bytes, Directive]] = {}
        #: Why the registry could not be restored after a restart (``Settings.safety_state_lost``):
        #: then every request is refused, a grant included (a forgotten opposition must not let one through).
        self.lost = lost

    def apply(self, key: bytes, event: dict | None) -> None:
        """One record of the registry topic; ``None`` (a tombstone) erases that key."""
        if event is None:
            for directives in self._by_patient.values():
                directives.pop(key, None)
            return
        patient = (event["patient"]["country"], event["patient"]["patient_id"])
        self._by_patient.setdefault(patient, {})[key] = Directive.of(event)

    def mark_unreadable(self, key: bytes | None) -> bool:
        """A record under ``key`` could not be read: refuse its patient, whatever else they said,
        until a readable directive replaces it. False when the key names no patient."""
        patient = patient_of_key(key)
        if patient is None:
            return False
        self._by_patient.setdefault(patient, {})[key] = Directive(UNREADABLE, None, None, None, 0, None, 2**62)
        return True

    def refusal(self, patient: dict, hp: dict, service: str, now_ms: int) -> str | None:
        """PATIENT_OPPOSED or CONSENT_REVOKED when the latest word in force refuses, else None."""
        if self.lost:
            return "CONSENT_REGISTRY_UNAVAILABLE"
        return REFUSALS.get(self.latest_word(patient, hp, service, now_ms))

    def latest_word(self, patient: dict, hp: dict, service: str, now_ms: int) -> str | None:
        """The kind of the latest directive in force that applies (GRANT, REVOCATION, OPPOSITION,
        UNREADABLE), or None when the patient said nothing that applies."""
        directives = self._by_patient.get((patient["country"], patient["patient_id"]), {}).values()
        in_force = [d for d in directives
                    if d.document_id is None and d.applies_to(hp, service) and d.in_force(now_ms)]
        if not in_force:
            return None
        return max(in_force, key=lambda d: (d.recorded_at, _SAFER_FIRST[d.kind])).kind

    def masked_documents(self, patient: dict, hp: dict, service: str, now_ms: int) -> set[str]:
        """The ids of the documents the patient masked from this professional and service: per
        document, the latest directive in force that applies refuses (an OPPOSITION; a GRANT makes it
        shareable again). The whole record's word is ``latest_word``'s, decided before this."""
        latest: dict[str, Directive] = {}
        for d in self._by_patient.get((patient["country"], patient["patient_id"]), {}).values():
            if d.document_id is None or not (d.applies_to(hp, service) and d.in_force(now_ms)):
                continue
            kept = latest.get(d.document_id)
            if kept is None or (d.recorded_at, _SAFER_FIRST[d.kind]) > (kept.recorded_at, _SAFER_FIRST[kept.kind]):
                latest[d.document_id] = d
        return {document for document, d in latest.items() if d.kind != GRANT}
