"""Original clinical documents (OrCD) for the French HP: a French header for each document, and its
original (PDF or image) checked before it may be served.

The original is never translated nor rendered: it is served as it is, with its media type. It is
refused — listed with its header and a stable refusal code, its bytes dropped — when its declared
media type is not one Passerelle serves (PDF, PNG, JPEG), when its bytes are not what it declares
(magic numbers), when it is not valid base64, or when it is too large (``MAX_ORIGINAL_BYTES`` each,
``MAX_LISTING_BYTES`` for a whole listing, which must fit one event).
"""

from __future__ import annotations

import base64
import binascii
from typing import Iterable

import structlog
from babel import Locale, UnknownLocaleError
from lxml import etree

from passerelle.errors import error
from passerelle.events import ORCD_RETRIEVED, orcd_outcome
from passerelle.orcd import NotAnOrcd, embedded_original, parse, patient_ids, read_header
from passerelle.processor import Emit, Incoming
from passerelle.service import Service
from passerelle.topics import Topics
from services.translation.catalogue import LOINC, Catalogue
from services.translation.lab import NotALabReport
from services.translation.lab_document import FHIR_JSON, read_lab_document

log = structlog.get_logger()
PRODUCER = Service.TRANSLATION
MAX_ORIGINAL_BYTES = 2 * 1024 * 1024
MAX_LISTING_BYTES = 6 * 1024 * 1024  # below the 8 MiB an event may weigh
#: Media types served, and how their bytes begin.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def sniff(content: bytes) -> str | None:
    """The served media type these bytes are, by their magic number; None for anything else."""
    return next((media for media, magics in MAGIC.items() if content.startswith(magics)), None)


def checked_original(root: etree._Element, budget: int) -> tuple[str | None, bytes | None, str | None]:
    """``(media type, bytes, None)`` for an original that may be served, else ``(None, None, code)``."""
    original = embedded_original(root)
    if original is None or not original.text.strip():
        return None, None, "ORIGINAL_MISSING"
    declared = (original.media_type or "").split(";")[0].strip().lower()
    if declared not in MAGIC:
        return None, None, "ORIGINAL_MEDIA_TYPE_NOT_ALLOWED"
    if (original.representation or "B64").upper() != "B64":
        return None, None, "ORIGINAL_UNREADABLE"
    text = "".join(original.text.split())
    if len(text) * 3 // 4 > min(MAX_ORIGINAL_BYTES, budget):  # refused before decoding anything
        return None, None, "ORIGINAL_TOO_LARGE"
    try:
        content = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, None, "ORIGINAL_UNREADABLE"
    if sniff(content) != declared:
        return None, None, "ORIGINAL_MEDIA_TYPE_MISMATCH"
    return declared, content, None


FRENCH = Locale("fr")


def language_in_french(tag: str | None) -> str | None:
    """``nl-BE`` → ``néerlandais (Belgique)``; None when the tag is not a language Babel knows."""
    if not tag:
        return None
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-").get_display_name(FRENCH)
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def country_in_french(code: str | None) -> str | None:
    """``BE`` → ``Belgique``; None for a code that is not an ISO 3166 country."""
    return FRENCH.territories.get(code.upper()) if code and len(code) == 2 and code.isalpha() else None


def read_structured(content: bytes, catalogue: Catalogue, budget: int) -> dict:
    """A structured laboratory report (FHIR JSON): its header, its results in French; the original
    is the document itself, bounded like any other."""
    document = read_lab_document(content, catalogue)
    fits = len(content) <= min(MAX_ORIGINAL_BYTES, budget)
    return {**document, "language_french": language_in_french(document["language"]),
            "country_french": country_in_french(document["country"]), "media_type": FHIR_JSON if fits else None,
            "content": content if fits else None, "size": len(content) if fits else 0,
            "refusal": None if fits else "ORIGINAL_TOO_LARGE"}


def read_document(content: bytes, catalogue: Catalogue, budget: int) -> dict:
    """One listed document: its header (French labels beside what was sent) and its checked original."""
    if content.lstrip()[:1] == b"{":
        return read_structured(content, catalogue, budget)
    root = parse(content)
    header = read_header(root)
    media_type, original, refusal = checked_original(root, budget)
    return {**header, "patient_ids": patient_ids(root),
            "document_type_french": catalogue.french(LOINC, header["document_type"]),
            "language_french": language_in_french(header["language"]),
            "country_french": country_in_french(header["country"]),
            "media_type": media_type, "content": original, "size": len(original or b""), "refusal": refusal,
            "laboratory": None}


def read_documents(documents: list[dict], catalogue: Catalogue,
                   patient_id: str | None = None) -> tuple[list[dict], bool, bool]:
    """Every readable document of a listing (originals within the listing's budget), whether some
    document could not be read at all (not even its header: it cannot be listed), and whether some
    document names another patient than ``patient_id`` (or none: it cannot be checked)."""
    listed, unreadable, foreign, budget = [], False, False, MAX_LISTING_BYTES
    for document in documents:
        try:
            read = read_document(document["content"], catalogue, budget)
        except (etree.XMLSyntaxError, NotAnOrcd, NotALabReport, ValueError, KeyError, TypeError, AttributeError,
                RecursionError):  # a hostile document (e.g. JSON nested beyond the parser) is not listed
            unreadable = True
            continue
        ids = read.pop("patient_ids")
        if patient_id is not None and patient_id not in ids:
            foreign = True
            continue
        budget -= read["size"]
        listed.append(read)
    return listed, unreadable, foreign


def translate_original_documents(incoming: Incoming, topics: Topics, catalogue: Catalogue) -> Iterable[Emit]:
    retrieved = incoming.event
    if retrieved["error"] is not None:
        yield orcd_outcome(topics, retrieved, PRODUCER, "FAILED", retrieved["error"])
        return
    listed, unreadable, foreign = read_documents(retrieved["documents"], catalogue, retrieved["patient"]["patient_id"])
    if foreign:  # country A mixed patients up: nothing of this answer is served (docs/adr/0190)
        log.warning("document of another patient refused", correlation_id=retrieved["envelope"]["correlation_id"])
        yield orcd_outcome(topics, retrieved, PRODUCER, "FAILED", error("DOCUMENT_PATIENT_MISMATCH"))
        return
    yield orcd_outcome(topics, retrieved, PRODUCER, "COMPLETED", error("TRANSLATION_FAILED") if unreadable else None,
                       listed)
