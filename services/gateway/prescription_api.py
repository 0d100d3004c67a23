"""ePrescription / eDispensation API (issue 6): a French pharmacist lists a foreign patient's
prescriptions in French, dispenses, and discards a dispensation (docs/prescription.md, ADR 0060).

``GET /v1/prescriptions`` runs the same flow as a Patient Summary (consent → router → country A →
translation) and waits for its outcome a few seconds; if it has not arrived, it answers 202 with the
request id to poll at ``GET /v1/prescriptions/requests/{id}``. A dispensation is a command keyed by
the prescription id (``ep.commands``); its state is the prescription service's (``ep.state``).
"""

from __future__ import annotations

from typing import Callable, Literal

import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from passerelle.envelope import new_envelope
from passerelle.eprescription import FRANCE
from passerelle.events import (AUTHENTICATION_FAILED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_REQUESTED,
                               EP_REQUESTED, request_key)
from passerelle.professionals import Profession, service_refusal
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from passerelle.service import Service
from services.gateway.errors import ApiError, unknown
from services.gateway.models import PRINTABLE_ID, PRINTABLE_TEXT, REQUEST_BODY
from services.gateway.handlers import authentication_failed
from services.gateway.prescription_tracker import PrescriptionTracker

log = structlog.get_logger()
PRODUCER = Service.GATEWAY
EDISPENSATION = "edispensation"
#: A dispensation waits at most this long for the prescription service's observation of the listing
#: it follows (``PrescriptionTracker.listing_observed``); usually milliseconds.
LISTING_OBSERVED_WAIT_S = 3.0
COUNTRY = Field(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation, ISO 3166-1 alpha-2.")
PATIENT_ID = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$", description="The patient's identifier there.")


class DispenseLineBody(BaseModel):
    model_config = REQUEST_BODY
    item_id: str = Field(min_length=1, max_length=128, pattern=PRINTABLE_ID,
                         description="The prescription item dispensed (one product).")
    quantity: int = Field(ge=1, le=10_000, description="Packages dispensed: the full or a partial quantity.")
    substitution: Literal["G", "TE"] | None = Field(None, description="Substitution applied, where the prescription allows it.")
    product_code: str | None = Field(None, max_length=64, pattern=PRINTABLE_ID, description="Product dispensed, when substituted.")
    product_name: str | None = Field(None, max_length=256, pattern=PRINTABLE_TEXT, description="Its name, when substituted.")


class DispensationBody(BaseModel):
    model_config = REQUEST_BODY
    country: str = COUNTRY
    patient_id: str = PATIENT_ID
    prescription_id: str = Field(min_length=1, max_length=256, pattern=PRINTABLE_ID,
                                 description="From GET /v1/prescriptions.")
    lines: list[DispenseLineBody] = Field(min_length=1, max_length=50)


class DispensationAccepted(BaseModel):
    dispensation_id: str


#: Shown in place of the substances of an item whose document names none that can be read.
NO_SUBSTANCE = ("Aucune substance active lisible dans ce document : vérifiez le produit auprès du patient "
                "ou du prescripteur avant toute délivrance.")


def _term(t: dict | None) -> dict | None:
    if t is None:
        return None
    return {"code": t["code"], "system": t["system"], "original": t["original"], "display": t["french"] or t["original"],
            "translated": t["french"] is not None}


def _substances(ingredients: list[dict]) -> list[dict]:
    return [{**_term(i["substance"]), "strength": i["strength"]} for i in ingredients]


def _part_view(part: dict) -> dict:
    return {"name": part["name"], "product": _term(part["product"]), "dose_form": _term(part["dose_form"]),
            "strength": part["strength"], "active_ingredients": _substances(part["ingredients"]),
            "package": _term(part["package"]), "package_size": part["package_size"], "quantity": part["quantity"]}


def _item_view(item: dict) -> dict:
    return {"item_id": item["item_id"], "product": _term(item["product"]),
            "product_class": _term(item.get("product_class")), "strength": item.get("strength"),
            "active_ingredients": _substances(item["ingredients"]),
            "substances_missing": NO_SUBSTANCE if not item["ingredients"] else None,
            "dose_form": _term(item["dose_form"]), "parts": [_part_view(p) for p in item.get("parts") or []],
            "route": _term(item["route"]), "package": _term(item["package"]),
            "package_size": item["package_size"], "quantity": item["quantity"], "dosage_instructions": item["dosage"],
            "dosage": item.get("dosage_french"), "instructions": item.get("instructions") or [],
            "substitution": item["substitution"], "substitution_allowed": item["substitution"] != "N",
            "dispensable": item["dispensable"], "valid_until": item.get("valid_until")}


def _prescriber_view(prescriber: dict | None) -> dict | None:
    if prescriber is None:
        return None
    return {**prescriber, "profession": _term(prescriber["profession"])}


def _prescription_view(p: dict) -> dict:
    return {"prescription_id": p["prescription_id"], "language": p["language"],
            "prescriber": _prescriber_view(p.get("prescriber")), "authored_at": p.get("authored_at"),
            "valid_until": p.get("valid_until"), "items": [_item_view(i) for i in p["items"]]}


def list_view(request_id: str, outcome: dict | None) -> dict:
    if outcome is None:
        return {"request_id": request_id, "status": "pending", "error": None, "prescriptions": []}
    return {"request_id": request_id, "status": outcome["status"].lower(), "error": outcome["error"],
            "prescriptions": [_prescription_view(p) for p in outcome["prescriptions"]]}


def dispensation_view(d: dict) -> dict:
    return {k: d[k] for k in ("dispensation_id", "prescription_id", "status", "prescription_status", "lines", "error")}


def prescriptions_requested(hp: dict, country: str, patient_id: str, purpose: str, consent_confirmed: bool,
                            information_notice_given: bool, origin: str | None) -> dict:
    return {"envelope": new_envelope(PRODUCER), "hp": hp, "patient": {"country": country.upper(), "patient_id": patient_id},
            "purpose": purpose, "consent_confirmed": consent_confirmed,
            "information_notice_given": information_notice_given, "request_origin": origin}


def dispensation_requested(hp: dict, body: dict, origin: str | None) -> dict:
    """The command of one dispensation; its id is the correlation id of everything that follows."""
    envelope = new_envelope(PRODUCER)
    return {"envelope": envelope, "hp": hp, "patient": {"country": body["country"].upper(), "patient_id": body["patient_id"]},
            "dispensation_id": envelope["correlation_id"], "prescription_id": body["prescription_id"],
            "lines": body["lines"], "request_origin": origin}


def discard_requested(hp: dict, dispensation: dict, origin: str | None) -> dict:
    return {"envelope": new_envelope(PRODUCER, dispensation["dispensation_id"]), "hp": hp,
            "patient": dispensation["patient"], "dispensation_id": dispensation["dispensation_id"],
            "prescription_id": dispensation["prescription_id"], "request_origin": origin}


def prescription_router(settings: Settings, serde: AvroSerde, professions: dict[str, Profession],
                        caller: Callable[..., HealthProfessionalClaims], producer: Callable[[], object],
                        tracker: PrescriptionTracker) -> APIRouter:
    """The routes; ``serde`` and ``professions`` are the gateway's, ``producer()`` its started Kafka
    producer, ``tracker`` fed by the gateway's follower (``follower.py``)."""
    topics = Topics(settings.topic_prefix)
    router = APIRouter(tags=["prescriptions"])

    async def publish(topic: str, event_type: str, event: dict, key: bytes) -> None:
        try:
            await producer().send_and_wait(topic, serde.encode(event_type, event), key=key)
        except KafkaError as exc:
            log.error("event not published", event_type=event_type, error_class=type(exc).__name__)
            raise ApiError(503, "GATEWAY_UNAVAILABLE") from exc

    def origin(request: Request) -> str | None:
        return request.client.host if request.client else None

    def refuse_french(country: str) -> None:
        if country.upper() == FRANCE:
            raise ApiError(400, "PRESCRIPTION_FROM_FRANCE")

    @router.get("/v1/prescriptions", summary="A foreign patient's prescriptions, in French",
                responses={202: {"description": "Not back within wait: poll /v1/prescriptions/requests/{request_id}"}})
    async def list_prescriptions(request: Request, country: str = Query(pattern=r"^[A-Za-z]{2}$"),
                                 patient_id: str = Query(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$"),
                                 consent_confirmed: bool = Query(description="The patient consents."),
                                 information_notice_given: bool = Query(description="The notice was given."),
                                 purpose: Literal["TREATMENT", "EMERGENCY"] = "TREATMENT",
                                 wait: float = Query(10.0, ge=0, le=30, description="Seconds to wait for country A."),
                                 hp: HealthProfessionalClaims = Depends(caller)):
        """Ask country A for the patient's prescriptions (consent rules as for a Patient Summary);
        the translated list if it arrives within ``wait`` seconds, else 202 and the request id."""
        refuse_french(country)
        event = prescriptions_requested(hp.as_record(), country, patient_id, purpose, consent_confirmed,
                                        information_notice_given, origin(request))
        request_id = event["envelope"]["correlation_id"]
        tracker.requested_list(request_id, hp.rpps)
        await publish(topics.ep_requested, EP_REQUESTED, event, request_key(event))
        log.info("prescriptions requested", correlation_id=request_id, country=country.upper())
        outcome = await tracker.list_arrived(request_id, wait)
        if outcome is None:
            return JSONResponse(list_view(request_id, None), status_code=202)
        return list_view(request_id, outcome)

    @router.get("/v1/prescriptions/requests/{request_id}", summary="Poll a prescriptions request")
    async def prescriptions_request(request_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        found = tracker.prescriptions_list(request_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        return list_view(request_id, found["outcome"])

    @router.post("/v1/dispensations", status_code=202, response_model=DispensationAccepted,
                 summary="Dispense lines of one foreign prescription")
    async def dispense(body: DispensationBody, request: Request, hp: HealthProfessionalClaims = Depends(caller)):
        """Country A is told (eDispensation); poll the state with the dispensation id."""
        refusal = service_refusal(hp.as_record(), professions, EDISPENSATION)
        if refusal:  # audited like every refused identity
            failed = authentication_failed(refusal, None, hp, request.method, request.url.path, origin(request))
            await publish(topics.security_events, AUTHENTICATION_FAILED, failed, request_key(failed))
            raise ApiError(403, refusal)
        refuse_french(body.country)
        if not await tracker.listing_observed(body.prescription_id, hp.rpps, LISTING_OBSERVED_WAIT_S):
            log.warning("listing not yet observed by the prescription service; dispensation sent anyway")
        event = dispensation_requested(hp.as_record(), body.model_dump(), origin(request))
        await publish(topics.ep_commands, DISPENSATION_REQUESTED, event, body.prescription_id.encode())
        tracker.requested_dispensation(event)
        log.info("dispensation requested", correlation_id=event["dispensation_id"], country=body.country.upper())
        return {"dispensation_id": event["dispensation_id"]}

    def owned(dispensation_id: str, hp: HealthProfessionalClaims) -> dict:
        found = tracker.dispensation(dispensation_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "DISPENSATION_NOT_FOUND")
        return found

    @router.get("/v1/dispensations/{dispensation_id}", summary="Where a dispensation stands")
    async def dispensation_status(dispensation_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        """pending, waiting (for the previous dispense's acknowledgement), submitted, acknowledged,
        rejected (with the reason), discard_pending, discarded."""
        return dispensation_view(owned(dispensation_id, hp))

    @router.delete("/v1/dispensations/{dispensation_id}", status_code=202, summary="Discard a dispensation")
    async def discard(dispensation_id: str, request: Request, hp: HealthProfessionalClaims = Depends(caller)):
        found = owned(dispensation_id, hp)
        if found["status"] in ("rejected", "discarded"):
            raise ApiError(409, "DISPENSATION_NOT_DISCARDABLE")
        event = discard_requested(hp.as_record(), found, origin(request))
        await publish(topics.ep_commands, DISPENSATION_DISCARD_REQUESTED, event, found["prescription_id"].encode())
        found["status"] = "discard_pending"  # until the prescription service's next state says more
        return dispensation_view(found)

    return router
