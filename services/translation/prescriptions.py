"""Translation of country A's ePrescriptions into the list a French pharmacist reads.

Each coded element (product, active ingredients in ATC, dose form, route, package: EDQM Standard
Terms) gets its French label from the catalogue beside country A's label; a code the catalogue does
not know keeps ``french`` null (the original is shown). Dosage instructions are free text: never
machine-translated.
"""

from __future__ import annotations

from typing import Iterable

from lxml import etree

from passerelle.eprescription import NotAnEPrescription, read_eprescription
from passerelle.errors import error
from passerelle.events import EP_RETRIEVED, ep_outcome
from passerelle.processor import Emit, Incoming, handles
from passerelle.topics import Topics
from passerelle.service import Service
from services.translation.catalogue import Catalogue

PRODUCER = Service.TRANSLATION


def _french(term: dict, catalogue: Catalogue) -> dict:
    if term["code"] and term["system"]:
        return {**term, "french": catalogue.french(term["system"], term["code"])}
    return term


def translate_prescription(prescription: dict, catalogue: Catalogue) -> dict:
    items = [{**item, "product": _french(item["product"], catalogue),
              "ingredients": [{**i, "substance": _french(i["substance"], catalogue)} for i in item["ingredients"]],
              "dose_form": _french(item["dose_form"], catalogue), "route": _french(item["route"], catalogue),
              "package": _french(item["package"], catalogue)} for item in prescription["items"]]
    return {**prescription, "items": items}


@handles(EP_RETRIEVED)
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
