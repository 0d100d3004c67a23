"""Reads the simulator's data directory into an index of patients by country and identifier."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

CDA_NS = {"hl7": "urn:hl7-org:v3"}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass
class PatientFolder:
    path: Path
    consent: bool = True  # patient.json may say {"consent": false}: country A answers 4701

    def document(self) -> tuple[str, Path] | None:
        for name, fmt in (("ps.xml", "CDA"), ("ps.json", "FHIR")):
            if (self.path / name).is_file():
                return fmt, self.path / name
        return None


@dataclass
class CountryFolder:
    available: bool = True
    patients: dict[str, PatientFolder] = field(default_factory=dict)  # identifier -> folder


def header_identifiers(folder: Path) -> list[str]:
    """Patient identifiers from the document header when there is no patient.json."""
    if (folder / "ps.xml").is_file():
        tree = etree.parse(str(folder / "ps.xml"), SAFE_PARSER)
        return tree.xpath("/hl7:ClinicalDocument/hl7:recordTarget/hl7:patientRole/hl7:id/@extension",
                          namespaces=CDA_NS)
    if (folder / "ps.json").is_file():
        bundle = json.loads((folder / "ps.json").read_text(encoding="utf-8"))
        return [ident["value"] for entry in bundle.get("entry", [])
                if entry.get("resource", {}).get("resourceType") == "Patient"
                for ident in entry["resource"].get("identifier", []) if "value" in ident]
    return []


def load_directory(root: Path) -> dict[str, CountryFolder]:
    countries: dict[str, CountryFolder] = {}
    for country_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        info_file = country_dir / "country.json"
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
        country = CountryFolder(available=info.get("available", True))
        for folder in sorted(p for p in country_dir.iterdir() if p.is_dir()):
            patient_file = folder / "patient.json"
            if patient_file.is_file():
                meta = json.loads(patient_file.read_text(encoding="utf-8"))
                ids = [i["value"] for i in meta.get("identifiers", [])]
                patient = PatientFolder(folder, consent=meta.get("consent", True))
            else:
                ids, patient = header_identifiers(folder), PatientFolder(folder)
            for ident in {folder.name, *ids}:
                country.patients[ident] = patient
        countries[country_dir.name.upper()] = country
    return countries
