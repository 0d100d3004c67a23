"""Translation rules: turn country A's answer into the outcome the HP reads."""

from __future__ import annotations

import json
from typing import Iterable

import structlog
from lxml import etree

from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.processor import Emit, Incoming, RejectedEvent
from passerelle.topics import Topics
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda
from services.translation.fhir import NotAnIpsBundle, translate_fhir
from services.translation.settings import TARGET_LANGUAGE

PRODUCER = "translation"
RETRIEVED = "fr.passerelle.ncp.PatientSummaryRetrieved"
TRANSLATORS = {"CDA": translate_cda, "FHIR": translate_fhir}


def translate_document(document: dict, catalogue: Catalogue) -> tuple[dict, dict | None]:
    """``(TranslatedSummary, error)``: an unparseable document is delivered as sent, with an error."""
    base = {"language": TARGET_LANGUAGE, "source_language": document.get("language"), "format": document["format"]}
    try:
        model, translated = TRANSLATORS[document["format"]](document["content"], catalogue)
    except (etree.XMLSyntaxError, json.JSONDecodeError, UnicodeDecodeError, NotAnIpsBundle):
        return _untranslated(base, document)
    except Exception as exc:  # a document we cannot handle is still delivered as sent (DOMAIN.md step 6)
        structlog.get_logger().error("translation crashed", error_class=type(exc).__name__)
        return _untranslated(base, document)
    return {**base, "source_language": model["source_language"] or base["source_language"], "translated": True,
            "sections": model["sections"], "document": translated}, None


def _untranslated(base: dict, document: dict) -> tuple[dict, dict]:
    return {**base, "translated": False, "sections": [], "document": document["content"]}, error("TRANSLATION_FAILED")


def translate_patient_summary(incoming: Incoming, topics: Topics, catalogue: Catalogue) -> Iterable[Emit]:
    if incoming.event_type != RETRIEVED:
        raise RejectedEvent(f"{incoming.event_type} is not a {RETRIEVED}")
    retrieved = incoming.event
    outcome = {"envelope": caused_by(retrieved, PRODUCER), "hp": retrieved["hp"], "patient": retrieved["patient"]}
    if retrieved["document"] is None:
        outcome.update(status="FAILED", error=retrieved["error"] or error("DOCUMENT_NOT_FOUND"), summary=None)
    else:
        summary, err = translate_document(retrieved["document"], catalogue)
        outcome.update(status="COMPLETED", error=err, summary=summary)
    yield Emit(topics.ps_outcomes, "fr.passerelle.ps.PatientSummaryOutcome", outcome,
               retrieved["envelope"]["correlation_id"].encode())
