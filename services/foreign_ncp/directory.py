"""Reads the simulator's data directory, once, into an index of patients by country and identifier.

Each document is parsed once here (for its language and, without ``patient.json``, the patient
identifiers in its header); the first query for a document reads and packs its bytes, kept for the
next ones (``handlers.packed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from passerelle.eprescription import patient_ids

CDA_NS = {"hl7": "urn:hl7-org:v3"}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class StoredDocument:
    format: str  # CDA or FHIR
    path: Path
    language: str | None


@dataclass
class PatientFolder:
    path: Path
    document: StoredDocument | None
    consent: bool = True  # patient.json may say {"consent": false}: country A answers 4701
    prescriptions: list[Path] = field(default_factory=list)  # ep/*.xml: eHDSI ePrescriptions
    original_documents: list[Path] = field(default_factory=list)  # orcd/*.xml: eHDSI OrCDs
    lab_reports: list[Path] = field(default_factory=list)  # lab/*.json: HL7 Europe Laboratory Reports (FHIR)
    identifiers: frozenset[str] = frozenset()  # every identifier country A files the patient under
    birth_date: str | None = None  # YYYY-MM-DD (patient.json, else the document's header)

    @property
    def record_id(self) -> str:
        """The patient's own identifier in country A (the folder's name): what identification answers."""
        return self.path.name


@dataclass
class CountryFolder:
    available: bool = True
    patients: dict[str, PatientFolder] = field(default_factory=dict)  # identifier -> folder
    records: list[PatientFolder] = field(default_factory=list)  # every patient once (identification)
    #: country.json "identification_requires": search-mask keys country A wants with the identifier
    #: before it answers an identification (eHDSI/XCPD "additional demographics requested")
    identification_requires: list[str] = field(default_factory=list)


def patient_refusal(country: CountryFolder | None, patient_id: str) -> tuple[str | None, PatientFolder | None]:
    """(None, the patient's folder) when country A can answer about that patient, else the error code
    it sends: unreachable country, unknown patient, no consent on its side (4701)."""
    if country is None or not country.available:
        return "COUNTRY_UNREACHABLE", None
    patient = country.patients.get(patient_id)
    if patient is None:
        return "PATIENT_NOT_FOUND", None
    return (None, patient) if patient.consent else ("NO_CONSENT", None)


def read_document(folder: Path) -> tuple[StoredDocument | None, list[str], str | None]:
    """The folder's Patient Summary, the patient identifiers and the birth date its header names."""
    cda, fhir = folder / "ps.xml", folder / "ps.json"
    if cda.is_file():
        root = etree.parse(str(cda), SAFE_PARSER).getroot()
        language = root.xpath("hl7:languageCode/@code", namespaces=CDA_NS)
        ids = root.xpath("hl7:recordTarget/hl7:patientRole/hl7:id/@extension", namespaces=CDA_NS)
        born = root.xpath("hl7:recordTarget/hl7:patientRole/hl7:patient/hl7:birthTime/@value", namespaces=CDA_NS)
        birth_date = f"{born[0][:4]}-{born[0][4:6]}-{born[0][6:8]}" if born and len(born[0]) >= 8 else None
        return StoredDocument("CDA", cda, language[0] if language else None), ids, birth_date
    if fhir.is_file():
        bundle = json.loads(fhir.read_text(encoding="utf-8"))
        resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        ids = [i["value"] for r in patients for i in r.get("identifier", []) if "value" in i]
        language = bundle.get("language") or next(
            (r.get("language") for r in resources if r.get("resourceType") == "Composition"), None)
        birth_date = next((r["birthDate"] for r in patients if "birthDate" in r), None)
        return StoredDocument("FHIR", fhir, language), ids, birth_date
    return None, [], None


def load_directory(root: Path) -> dict[str, CountryFolder]:
    countries: dict[str, CountryFolder] = {}
    for country_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        info_file = country_dir / "country.json"
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
        country = CountryFolder(available=info.get("available", True),
                                identification_requires=info.get("identification_requires", []))
        for folder in sorted(p for p in country_dir.iterdir() if p.is_dir()):
            document, ids, birth_date = read_document(folder)
            patient_file = folder / "patient.json"
            meta = json.loads(patient_file.read_text(encoding="utf-8")) if patient_file.is_file() else None
            if meta is not None:  # patient.json, when present, says who the patient is
                ids = [i["value"] for i in meta.get("identifiers", [])]
            prescriptions = sorted((folder / "ep").glob("*.xml"))
            if meta is None and not ids and prescriptions:  # no summary: the prescriptions say who
                ids = patient_ids(prescriptions[0].read_bytes())
            patient = PatientFolder(folder, document, consent=(meta or {}).get("consent", True),
                                    prescriptions=prescriptions, original_documents=sorted((folder / "orcd").glob("*.xml")),
                                    lab_reports=sorted((folder / "lab").glob("*.json")),
                                    identifiers=frozenset({folder.name, *ids}),
                                    birth_date=(meta or {}).get("birth_date") or birth_date)
            country.records.append(patient)
            for ident in ids:  # another patient's own identifier (its folder) wins over an alias
                country.patients.setdefault(ident, patient)
        for patient in country.records:
            country.patients[patient.record_id] = patient
        countries[country_dir.name.upper()] = country
    return countries
