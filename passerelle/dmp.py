"""The DMP simulator: ``DIR/<NIR>/patient.json`` and the patient's syntheses ``DIR/<NIR>/vsm.xml``
(and ``vsm-*.xml`` when the DMP holds several) (``passerelle up --dmp-data DIR``). Read once at start; a directory whose files are invalid is reported and skipped,
never served (the report names the directory and the problem, never a patient's traits)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import unicodedata

import structlog
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from passerelle.ins import ins_problem

NS = "urn:hl7-org:v3"
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class DmpPatient(BaseModel):
    """``patient.json``."""
    model_config = ConfigDict(extra="forbid")
    ins: str
    birth_name: str = Field(min_length=1, max_length=100)
    first_names: list[str] = Field(min_length=1)
    birth_date: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    sex: Literal["F", "M"]
    birth_place: str = Field(pattern=r"^[0-9][0-9AB][0-9]{3}$")
    dmp_status: Literal["open", "closed"]
    cross_border_opposition: bool
    masked_documents: list[str]
    email: str | None = None

    @field_validator("ins")
    @classmethod
    def _valid_ins(cls, ins: str) -> str:
        if ins_problem(ins):
            raise ValueError(ins_problem(ins))
        return ins


@dataclass(frozen=True)
class DmpDocument:
    """One synthèse (VSM) of the patient's DMP, as its CDA header describes it."""
    id: str  # ClinicalDocument/id/@extension (else @root)
    content: bytes
    effective_time: str  # ClinicalDocument/effectiveTime/@value (HL7 TS), "" when absent
    title: str
    author: str  # the author's organisation, "" when absent


@dataclass(frozen=True)
class DmpRecord:
    patient: DmpPatient
    #: The patient's syntheses, newest first (``vsm.xml``, ``vsm-*.xml``); empty: none in this DMP.
    documents: tuple[DmpDocument, ...] = ()

    @property
    def vsm(self) -> bytes | None:
        """The newest synthèse, or None."""
        return self.documents[0].content if self.documents else None

    @property
    def vsm_id(self) -> str | None:
        return self.documents[0].id if self.documents else None

    def document(self, document_id: str) -> DmpDocument | None:
        return next((d for d in self.documents if d.id == document_id), None)


def _text(root, path: str) -> str:
    found = root.find(path, {"h": NS})
    return " ".join("".join(found.itertext()).split()) if found is not None else ""


def read_document(content: bytes) -> DmpDocument:
    """A synthèse's header; ``ValueError`` when it is not a CDA document with an id."""
    root = etree.fromstring(content, SAFE_PARSER)
    if root.tag != f"{{{NS}}}ClinicalDocument":
        raise ValueError("vsm.xml is not a CDA ClinicalDocument")
    ident = root.find(f"{{{NS}}}id")
    if ident is None or not (ident.get("extension") or ident.get("root")):
        raise ValueError("vsm.xml has no document id")
    effective = root.find(f"{{{NS}}}effectiveTime")
    return DmpDocument(ident.get("extension") or ident.get("root"), content,
                       effective.get("value", "") if effective is not None else "", _text(root, "h:title"),
                       _text(root, "h:author/h:assignedAuthor/h:representedOrganization/h:name"))


def load_record(directory: Path) -> DmpRecord:
    """One patient's directory; ``ValueError`` (or ``ValidationError``) when its files are invalid."""
    patient = DmpPatient.model_validate_json((directory / "patient.json").read_bytes())
    if patient.ins[:13] != directory.name:
        raise ValueError("the directory is not named after the patient's NIR")
    documents = [read_document(path.read_bytes()) for path in sorted(directory.glob("vsm*.xml"))]
    if len({d.id for d in documents}) != len(documents):
        raise ValueError("two syntheses share a document id")
    # Newest first: the HL7 TS sorts as text on its date and time digits ("+0100" aside).
    documents.sort(key=lambda d: (d.effective_time[:14], d.id), reverse=True)
    return DmpRecord(patient, tuple(documents))


def load_dmp(root: Path) -> dict[str, DmpRecord]:
    """INS -> the patient's DMP; invalid directories are logged and skipped."""
    records: dict[str, DmpRecord] = {}
    for directory in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        try:
            record = load_record(directory)
        except (OSError, ValueError, ValidationError, etree.XMLSyntaxError) as exc:
            structlog.get_logger().error("DMP directory skipped: invalid files", directory=directory.name,
                      problem=type(exc).__name__, errors=_field_errors(exc))
            continue
        records[record.patient.ins] = record
    structlog.get_logger().info("DMP simulator loaded", patients=len(records), data=str(root))
    return records


def _field_errors(exc: Exception) -> list[str] | str:
    """What was wrong, without the values (they are a patient's traits)."""
    if isinstance(exc, ValidationError):
        return [f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors()]
    return str(exc)[:200]


def folded(text: str) -> str:
    """Upper case, accents, hyphens, apostrophes and extra spaces removed: "Lefèvre-D'Arc" = "LEFEVRE D ARC"."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.upper().replace("-", " ").replace("'", " ").split())


def traits_agree(traits: dict, record: DmpRecord) -> bool:
    p = record.patient
    if folded(traits["birth_name"]) != folded(p.birth_name) or traits["birth_date"] != p.birth_date:
        return False
    given = [folded(n) for n in traits.get("first_names") or []]
    if given and given != [folded(n) for n in p.first_names][:len(given)]:
        return False
    return all(traits.get(k) in (None, "", getattr(p, k)) for k in ("sex", "birth_place"))
