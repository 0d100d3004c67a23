"""Country A's side of ePrescription / eDispensation: it serves the patient's prescriptions and
checks each dispensation France sends back (dispensable, substitution allowed, quantity left),
keeping what remains to dispense per prescription item.

The ledger lives in the simulator's memory (country A's own database in real life): it starts from
the documents of ``--ncp-data`` on every start. An answer is remembered per dispensation id and
kind, so a redelivered dispensation gets the same answer and never counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from passerelle.envelope import caused_by
from passerelle.eprescription import add_lines, dispense_refusal, read_eprescription
from passerelle.errors import error
from passerelle.events import DISPENSATION_ANSWERED, EP_RETRIEVED, request_key
from passerelle.processor import Emit
from passerelle.topics import Topics
from passerelle.service import Service
from services.foreign_ncp.directory import CountryFolder, patient_refusal

PRODUCER = Service.FOREIGN_NCP


@dataclass
class Ledger:
    """Country A's prescriptions (by id) and what it has acknowledged of each."""
    prescriptions: dict[str, dict] = field(default_factory=dict)
    patients: dict[str, set[str]] = field(default_factory=dict)  # prescription id -> the patient's identifiers
    dispensed: dict[str, dict[str, int]] = field(default_factory=dict)
    answers: dict[tuple[str, str], dict | None] = field(default_factory=dict)  # (dispensation, kind) -> error

    @classmethod
    def load(cls, directory: dict[str, CountryFolder]) -> "Ledger":
        ledger = cls()
        for country in directory.values():
            for ident, patient in country.patients.items():
                for path in patient.prescriptions:
                    prescription = read_eprescription(path.read_bytes())
                    ledger.prescriptions[prescription["prescription_id"]] = prescription
                    ledger.patients.setdefault(prescription["prescription_id"], set()).add(ident)
        return ledger

    def answer(self, submitted: dict) -> dict | None:
        """None (acknowledged) or the error country A answers; the same answer when asked again."""
        key = (submitted["dispensation_id"], submitted["kind"])
        if key in self.answers:
            return self.answers[key]
        prescription_id = submitted["prescription_id"]
        prescription = self.prescriptions.get(prescription_id)
        dispensed = self.dispensed.get(prescription_id, {})
        owners = self.patients.get(prescription_id)
        if prescription is None or (owners is not None and submitted["patient"]["patient_id"] not in owners):
            refusal = "PRESCRIPTION_NOT_FOUND"  # unknown, or another patient's
        elif submitted["kind"] == "DISCARD":
            refusal = None if (submitted["dispensation_id"], "DISPENSE") in self.answers \
                and self.answers[(submitted["dispensation_id"], "DISPENSE")] is None else "DISPENSATION_NOT_FOUND"
        else:
            refusal = dispense_refusal(prescription, dispensed, submitted["lines"])
        if refusal is None:
            sign = -1 if submitted["kind"] == "DISCARD" else 1
            self.dispensed[prescription_id] = add_lines(dispensed, submitted["lines"], sign)
        self.answers[key] = error(refusal) if refusal else None
        return self.answers[key]


def answer_prescription_query(query: dict, country: CountryFolder | None, refusal: str | None,
                              topics: Topics) -> Emit:
    """The patient's ePrescription documents, or the error country A sends."""
    patient = None
    if refusal is None:
        refusal, patient = patient_refusal(country, query["patient"]["patient_id"])
    err = error(refusal) if refusal else None
    documents = [{"language": None, "content": p.read_bytes()} for p in patient.prescriptions] if patient else []
    retrieved = {"envelope": caused_by(query, PRODUCER), "hp": query["hp"], "patient": query["patient"],
                 "purpose": query["purpose"], "error": err, "documents": documents}
    return Emit(topics.ep_retrieved, EP_RETRIEVED, retrieved, request_key(query))


def answer_dispensation(submitted: dict, ledger: Ledger, topics: Topics) -> Iterable[Emit]:
    err = ledger.answer(submitted)
    answer = {"envelope": caused_by(submitted, PRODUCER), "hp": submitted["hp"], "patient": submitted["patient"],
              "dispensation_id": submitted["dispensation_id"], "prescription_id": submitted["prescription_id"],
              "kind": submitted["kind"], "accepted": err is None, "error": err}
    yield Emit(topics.ep_commands, DISPENSATION_ANSWERED, answer, submitted["prescription_id"].encode())
