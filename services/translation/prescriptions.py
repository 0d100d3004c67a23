"""Translation of country A's ePrescriptions into the list a French pharmacist reads.

Each coded element (product, active ingredients in ATC, dose form, route, package: EDQM Standard
Terms) gets its French label from the catalogue beside country A's label; a code the catalogue does
not know keeps ``french`` null (the original is shown). A substance given by name only (a nullFlavor
code) keeps its name as written. The structured dosage is written in French (``dosage_french``);
free-text instructions stay in their language, marked so: never machine-translated.
"""

from __future__ import annotations

from typing import Iterable

from lxml import etree

from passerelle.eprescription import NotAnEPrescription, dosage_of, read_eprescription
from passerelle.medication import french_dosage
from passerelle.errors import error
from passerelle.events import EP_RETRIEVED, ep_outcome
from passerelle.processor import Emit, Incoming
from passerelle.topics import Topics
from passerelle.service import Service
from services.translation.catalogue import Catalogue

PRODUCER = Service.TRANSLATION


def _french(term: dict | None, catalogue: Catalogue) -> dict | None:
    if term and term["code"] and term["system"]:
        return {**term, "french": catalogue.french(term["system"], term["code"])}
    return term


def _ingredients(ingredients: list[dict], catalogue: Catalogue) -> list[dict]:
    """Each substance with its French name (the DCI) when the catalogue knows its code."""
    return [{**i, "substance": _french(i["substance"], catalogue)} for i in ingredients]


def _part(part: dict, catalogue: Catalogue) -> dict:
    return {**part, "product": _french(part["product"], catalogue), "dose_form": _french(part["dose_form"], catalogue),
            "ingredients": _ingredients(part["ingredients"], catalogue), "package": _french(part["package"], catalogue)}


def translate_item(item: dict, catalogue: Catalogue) -> dict:
    translated = {**item, "product": _french(item["product"], catalogue),
                  "product_class": _french(item.get("product_class"), catalogue),
                  "ingredients": _ingredients(item["ingredients"], catalogue),
                  "dose_form": _french(item["dose_form"], catalogue), "route": _french(item["route"], catalogue),
                  "package": _french(item["package"], catalogue),
                  "parts": [_part(p, catalogue) for p in item.get("parts") or []]}
    translated["dosage_french"] = french_dosage(dosage_of(translated), catalogue)
    return translated


def translate_prescription(prescription: dict, catalogue: Catalogue) -> dict:
    prescriber = prescription.get("prescriber")
    if prescriber:
        prescriber = {**prescriber, "profession": _french(prescriber["profession"], catalogue)}
    return {**prescription, "prescriber": prescriber,
            "items": [translate_item(item, catalogue) for item in prescription["items"]]}


def translate_prescriptions(incoming: Incoming, topics: Topics, catalogue: Catalogue) -> Iterable[Emit]:
    retrieved = incoming.event
    if retrieved["error"] is not None:
        yield ep_outcome(topics, retrieved, PRODUCER, "FAILED", retrieved["error"])
        return
    prescriptions, unreadable = [], False
    for document in retrieved["documents"]:
        try:
            prescriptions.append(translate_prescription(read_eprescription(document["content"]), catalogue))
        except (etree.XMLSyntaxError, NotAnEPrescription, ValueError):
            unreadable = True  # not listed: nothing can be dispensed from a document we cannot read
    yield ep_outcome(topics, retrieved, PRODUCER, "COMPLETED", error("TRANSLATION_FAILED") if unreadable else None,
                     prescriptions)
