"""The French terminology catalogue: versioned data files (``data/catalogue/*.json``) and a loader.

Each file covers one code system: ``{"code_system": OID, "name", "version", "source",
"concepts": {code: {"fr": label, "en": label, "source"?: ...}}}``. FHIR documents name code
systems by URI; ``SYSTEM_URIS`` maps those to the OIDs CDA uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LOINC = "2.16.840.1.113883.6.1"
NULL_FLAVOR = "2.16.840.1.113883.5.1008"

SYSTEM_URIS = {
    "http://loinc.org": LOINC,
    "http://snomed.info/sct": "2.16.840.1.113883.6.96",
    "http://hl7.org/fhir/sid/icd-10": "1.3.6.1.4.1.12559.11.10.1.3.1.44.2",
    "http://www.whocc.no/atc": "2.16.840.1.113883.6.73",
    "http://standardterms.edqm.eu": "0.4.0.127.0.16.1.1.2.1",
    "http://unitsofmeasure.org": "2.16.840.1.113883.6.8",
    "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender": "2.16.840.1.113883.5.1",
    "http://terminology.hl7.org/CodeSystem/v3-NullFlavor": NULL_FLAVOR,
}


@dataclass(frozen=True)
class Concept:
    fr: str
    en: str | None
    source: str


class Catalogue:
    def __init__(self, systems: dict[str, dict[str, Concept]], names: dict[str, str]):
        self.systems = systems
        self.names = names

    @classmethod
    def load(cls, directory: Path) -> "Catalogue":
        systems: dict[str, dict[str, Concept]] = {}
        names: dict[str, str] = {}
        for path in sorted(directory.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            oid = data["code_system"]
            names[oid] = data.get("name", oid)
            concepts = systems.setdefault(oid, {})
            for code, c in data["concepts"].items():
                concepts[code] = Concept(c["fr"], c.get("en"), c.get("source", data["source"]))
        return cls(systems, names)

    @staticmethod
    def oid(system: str) -> str:
        """The OID of a code system named by OID or by FHIR URI (``urn:oid:`` accepted)."""
        if system.startswith("urn:oid:"):
            return system[len("urn:oid:"):]
        return SYSTEM_URIS.get(system, system)

    def knows_system(self, system: str) -> bool:
        return self.oid(system) in self.systems

    def french(self, system: str, code: str) -> str | None:
        concept = self.systems.get(self.oid(system), {}).get(code)
        return concept.fr if concept else None
