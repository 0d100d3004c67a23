"""Translation rules: turn country A's answer into the outcome the HP reads."""

from __future__ import annotations

import json
from typing import Iterable

import structlog
from lxml import etree

from passerelle.documents import UnreadableDocument, pack, unpack
from passerelle.errors import error
from passerelle.events import PS_RETRIEVED, ps_outcome
from passerelle.processor import Emit, Incoming
from passerelle.topics import Topics
from passerelle.service import Service
from services.translation.catalogue import Catalogue
from services.translation.cda import NotACdaDocument, translate_cda
from services.translation.fhir import NotAnIpsBundle, translate_fhir
from services.translation.guard import HostileDocument
from services.translation.settings import TARGET_LANGUAGE

PRODUCER = Service.TRANSLATION
TRANSLATORS = {"CDA": translate_cda, "FHIR": translate_fhir}


def translate_document(document: dict, catalogue: Catalogue) -> tuple[dict, dict | None]:
    """``(TranslatedSummary, error)``: an unparseable document is delivered as sent, with an error;
    a hostile one raises ``HostileDocument`` (it is refused, not delivered). The document's bytes are read back from their encoding (``passerelle.documents``; a frame that
    cannot be read raises ``UnreadableDocument``), and the summary's document is stored packed."""
    summary, err = _translated(unpack(document.get("encoding"), document["content"]), document, catalogue)
    summary["document_encoding"], summary["document"] = pack(summary["document"])
    return summary, err


def _translated(content: bytes, document: dict, catalogue: Catalogue) -> tuple[dict, dict | None]:
    base = {"language": TARGET_LANGUAGE, "source_language": document.get("language"), "format": document["format"]}
    try:
        model, translated = TRANSLATORS[document["format"]](content, catalogue)
    except HostileDocument:
        raise
    except (etree.XMLSyntaxError, json.JSONDecodeError, UnicodeDecodeError, NotAnIpsBundle, NotACdaDocument):
        return _untranslated(base, content)
    except Exception as exc:  # a document we cannot handle is still delivered as sent (docs/domain.md, step 6)
        structlog.get_logger().error("translation crashed", error_class=type(exc).__name__)
        return _untranslated(base, content)
    return {**base, **model, "source_language": model["source_language"] or base["source_language"],
            "translated": True, "document": translated}, None


def _untranslated(base: dict, content: bytes) -> tuple[dict, dict]:
    return {**base, "translated": False, "sections": [], "document": content}, error("TRANSLATION_FAILED")


def translate_patient_summary(incoming: Incoming, topics: Topics, catalogue: Catalogue) -> Iterable[Emit]:
    retrieved = incoming.event
    if retrieved["document"] is None:
        yield ps_outcome(topics, retrieved, PRODUCER, "FAILED", retrieved["error"] or error("DOCUMENT_NOT_FOUND"))
        return
    try:
        summary, err = translate_document(retrieved["document"], catalogue)
    except UnreadableDocument:  # the HP is answered; the reason names the encoding, never the content
        structlog.get_logger().warning("document unreadable", correlation_id=retrieved["envelope"]["correlation_id"])
        yield ps_outcome(topics, retrieved, PRODUCER, "FAILED", error("DOCUMENT_UNREADABLE"))
        return
    except HostileDocument as refused:  # refused, audited through the outcome; never shown to the HP
        structlog.get_logger().warning("document refused", reason=refused.code,
                                       correlation_id=retrieved["envelope"]["correlation_id"])
        yield ps_outcome(topics, retrieved, PRODUCER, "FAILED", error(refused.code))
        return
    yield ps_outcome(topics, retrieved, PRODUCER, "COMPLETED", err, summary)
