"""The French terminology catalogue: versioned data (``data/catalogue/``, built by ``passerelle catalogue
build`` from ``data/catalogue-sources/``) and its loader.

Each code-system file: ``{"code_system": OID, "uris": [FHIR URIs], "name", "version",
"sources": {key: description}, "concepts": {code: {"fr", "en", "source": key, "explanation"?}}}``; a
source key starting ``curated:`` or ``derived:`` marks a label the project wrote or derived itself.
``code-systems.json`` holds the equivalences: every other identifier (FHIR URI, legacy epSOS OID…) of
each code system, so a code translates whichever identifier the sender used (ADR 120).
``value-sets.json`` holds eHDSI value-set membership, ``manifest.json`` the catalogue version and the
checksums of the inputs it was built from.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

LOINC = "2.16.840.1.113883.6.1"
NULL_FLAVOR = "2.16.840.1.113883.5.1008"


#: Where a French label comes from: a published French source, or the project itself.
PUBLISHED, CURATED, DERIVED = "published", "curated", "derived"


def label_kind(source_key: str) -> str:
    prefix = source_key.split(":", 1)[0]
    return prefix if prefix in (CURATED, DERIVED) else PUBLISHED


@dataclass(frozen=True, slots=True)
class Concept:
    fr: str
    en: str | None
    source: str
    explanation: str | None = None
    kind: str = PUBLISHED


@dataclass(frozen=True)
class ValueSetCoverage:
    name: str
    oid: str | None
    codes: int
    french: int


#: How many code system identifiers a catalogue remembers the canonical OID of.
MAX_REMEMBERED_SYSTEMS = 4096


class Catalogue:
    def __init__(self, systems: dict[str, dict[str, Concept]], names: dict[str, str], uris: dict[str, str],
                 value_sets: dict[str, dict] | None = None, version: str | None = None,
                 documents: dict | None = None):
        self.systems = systems
        self.names = names
        self.uris = uris
        self.value_sets = value_sets or {}
        self.version = version
        documents = documents or {}
        #: document LOINC code → {"type", "required": [section codes], "required_fhir"?}
        self.documents: dict[str, dict] = documents.get("documents", {})
        #: eHDSI section templateId → section LOINC code
        self.section_templates = {t: code for code, s in documents.get("sections", {}).items()
                                  for t in s.get("templates", [])}
        self._membership: dict[tuple[str, str], list[str]] | None = None
        #: ``oid()``'s answers (asked for every coded element), bounded: systems come from documents.
        self._oids: dict[str, str] = {}

    @classmethod
    def load(cls, directory: Path) -> "Catalogue":
        systems: dict[str, dict[str, Concept]] = {}
        names: dict[str, str] = {}
        uris: dict[str, str] = {}
        value_sets: dict[str, dict] = {}
        version = None
        documents: dict = {"documents": {}, "sections": {}}
        for path in sorted(directory.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if "value_sets" in data:
                value_sets.update(data["value_sets"])
            elif "code_systems" in data:
                for oid, system in data["code_systems"].items():
                    uris.update({identifier: oid for identifier in system["identifiers"]})
                    names.setdefault(oid, system["name"])
            elif "documents" in data:
                documents = data
            elif "catalogue_version" in data:
                version = data["catalogue_version"]
            elif "code_system" in data:
                oid = data["code_system"]
                names[oid] = data.get("name", oid)
                uris.update({uri.rstrip("/"): oid for uri in data.get("uris", [])})
                sources = data.get("sources") or {}
                concepts = systems.setdefault(oid, {})
                for code, c in data["concepts"].items():
                    source = c.get("source") or data.get("source", "")
                    concepts[code] = Concept(c["fr"], c.get("en"), sources.get(source, source), c.get("explanation"),
                                             label_kind(source))
        return cls(systems, names, uris, value_sets, version, documents)

    def oid(self, system: str) -> str:
        """The canonical OID of a code system named by any of its identifiers: OID, FHIR URI
        (``urn:oid:`` accepted), legacy epSOS OID (``code-systems.json``)."""
        found = self._oids.get(system)
        if found is None:
            bare = system[len("urn:oid:"):] if system.startswith("urn:oid:") else system.rstrip("/")
            found = self.uris.get(bare, bare)
            if len(self._oids) < MAX_REMEMBERED_SYSTEMS:
                self._oids[system] = found
        return found

    def knows_system(self, system: str) -> bool:
        return self.oid(system) in self.systems

    def concept(self, system: str, code: str) -> Concept | None:
        return self.systems.get(self.oid(system), {}).get(code)

    def french(self, system: str, code: str) -> str | None:
        concept = self.concept(system, code)
        return concept.fr if concept else None

    def value_sets_of(self, system: str, code: str) -> list[str]:
        """The eHDSI value sets the code belongs to."""
        if self._membership is None:
            membership = defaultdict(list)
            for name, vs in self.value_sets.items():
                for oid, codes in vs["concepts"].items():
                    for c in codes:
                        membership[(oid, c)].append(name)
            self._membership = dict(membership)
        return self._membership.get((self.oid(system), code), [])

    def coverage(self) -> list[ValueSetCoverage]:
        """For each eHDSI value set: how many of its codes have a French label."""
        return [ValueSetCoverage(name, vs.get("oid"), sum(len(codes) for codes in vs["concepts"].values()),
                                 sum(1 for oid, codes in vs["concepts"].items() for c in codes
                                     if c in self.systems.get(oid, {})))
                for name, vs in sorted(self.value_sets.items())]
